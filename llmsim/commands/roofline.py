"""`llmsim roofline`: per-operator roofline table of a model on a GPU, or of plain GEMMs, optionally plotted."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from llmsim import plotting
from llmsim.commands.cost import add_model_args, build_cost_model, context_len, positive
from llmsim.commands.argtypes import int_range
from llmsim.errors import UsageError


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `roofline` subcommand."""
    parser = subparsers.add_parser("roofline", help="per-operator FLOPs, bytes, intensity, bound and time")
    add_model_args(parser, model_required=False)
    parser.add_argument("--matrix-dims", type=int_range(1, 1_000_000), nargs="+", help="square GEMM weight sizes (seed form)")
    parser.add_argument("--input-sizes", type=int_range(1, 10_000_000), nargs="+", help="GEMM token counts (seed form)")
    parser.add_argument("--plot", "--output", dest="plot", help="draw the roofline to this PNG (needs matplotlib)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Print the table and draw the plot when asked."""
    if args.plot:
        from llmsim.output.atomic_file import check_output_file

        check_output_file(args.plot, "--plot", [("--hardware-file", args.hardware_file), ("--model", args.model)])
    if args.matrix_dims or args.input_sizes:
        rows, peak, bw = _gemm_rows(args)
    elif args.model:
        rows, peak, bw = _model_rows(args)
    else:
        raise UsageError("give --model, or --matrix-dims with --input-sizes", field="roofline")
    _print(rows, peak, bw)
    if args.plot:
        _plot(rows, peak, bw, args.plot, args.hardware)
        print(f"wrote {args.plot}")
    return 0


Row = tuple[str, float, float, float]  # name, FLOPs, bytes, seconds


def _model_rows(args: argparse.Namespace) -> tuple[list[Row], float, float]:
    cm = build_cost_model(args)
    ctx = context_len(args)
    rows: list[Row] = []
    for stage, plan in (("prefill", ([args.input_len] * args.batch, [0] * args.batch, [])),
                        ("decode", ([], [], [ctx] * args.batch))):
        for op in cm.breakdown(*plan):
            rows.append((f"{stage}:{op.name}", op.flops, op.bytes, cm.op_time_s(op)))
    bw = cm.hw.hbm_bandwidth_bytes_per_s * cm.profile.memory_efficiency
    return rows, cm.peak_flops * cm.profile.compute_efficiency, bw


def _gemm_rows(args: argparse.Namespace) -> tuple[list[Row], float, float]:
    from llmsim.cost import get_hardware, precision_from_dtype

    if not args.matrix_dims or not args.input_sizes:
        raise UsageError("--matrix-dims and --input-sizes go together", field="--matrix-dims")
    positive(args, "tp")
    hw = get_hardware(args.hardware, args.hardware_file)
    p = precision_from_dtype(args.dtype)
    peak = hw.peak_fp16_flops if p.activation_bits > 8 else (hw.peak_fp8_flops or hw.peak_fp16_flops)
    rows: list[Row] = []
    for dim in args.matrix_dims:
        for tokens in args.input_sizes:
            if dim < 1 or tokens < 1:
                raise UsageError("sizes must be >= 1", field="--matrix-dims/--input-sizes")
            flops = 2.0 * tokens * dim * dim
            traffic = dim * dim * p.weight_bytes + 2.0 * tokens * dim * p.activation_bytes
            seconds = max(flops / peak, traffic / hw.hbm_bandwidth_bytes_per_s)
            rows.append((f"gemm {tokens}x{dim}x{dim}", flops, traffic, seconds))
    return rows, peak, hw.hbm_bandwidth_bytes_per_s


def _print(rows: Sequence[Row], peak: float, bw: float) -> None:
    ridge = peak / bw
    print(f"peak {peak / 1e12:.1f} TFLOP/s, bandwidth {bw / 1e9:.0f} GB/s, ridge point {ridge:.1f} FLOP/byte")
    print(f"{'operator':34} {'GFLOPs':>12} {'MB moved':>12} {'FLOP/byte':>10} {'bound':>8} {'time us':>10}")
    for name, flops, traffic, seconds in rows:
        intensity = flops / traffic if traffic else float("inf")
        bound = "compute" if intensity >= ridge else "memory"
        print(f"{name:34} {flops / 1e9:12.3f} {traffic / 1e6:12.3f} {intensity:10.2f} {bound:>8} {seconds * 1e6:10.2f}")


def _plot(rows: Sequence[Row], peak: float, bw: float, path: str, title: str) -> None:
    plt = plotting.pyplot("--plot", field="--plot")
    intensities = [f / b for _, f, b, _ in rows if b > 0 and f > 0]
    lo, hi = min(intensities + [0.1]) / 2, max(intensities + [peak / bw]) * 4
    xs = [lo * (hi / lo) ** (i / 200) for i in range(201)]
    fig, ax = plt.subplots(figsize=(8, 5))
    ax.loglog(xs, [min(peak, x * bw) / 1e12 for x in xs], color="black", label="roofline")
    for name, flops, traffic, _ in rows:
        if traffic > 0 and flops > 0:
            x = flops / traffic
            ax.scatter([x], [min(peak, x * bw) / 1e12], s=18)
            ax.annotate(name, (x, min(peak, x * bw) / 1e12), fontsize=6)
    ax.set_xlabel("arithmetic intensity (FLOP/byte)")
    ax.set_ylabel("attainable TFLOP/s")
    ax.set_title(f"roofline: {title}")
    plotting.save(fig, path, dpi=120)
