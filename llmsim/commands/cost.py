"""`llmsim cost`: time of one prefill iteration and one decode iteration, with a breakdown."""

from __future__ import annotations

import argparse

import orjson

from llmsim.commands.argtypes import int_range
from llmsim.errors import UnknownHardwareError, UnknownModelError, UsageError


def add_model_args(parser: argparse.ArgumentParser, *, model_required: bool = True) -> None:
    """--model, --hardware, --hardware-file, --tp, --dtype, --calibration, --batch, lengths."""
    parser.add_argument("--model", required=model_required, help="shipped name, Hugging Face id or config path")
    parser.add_argument("--hardware", required=True, help="GPU id from the hardware table (e.g. nvidia_A100)")
    parser.add_argument("--hardware-file", help="JSON file with extra GPUs ({\"gpus\": [...]})")
    parser.add_argument("--tp", type=int_range(1, 1024), default=1, help="tensor-parallel degree (default 1)")
    parser.add_argument("--dtype", default="fp16", help="fp16, bf16, fp8, int8 or int4 (default fp16)")
    parser.add_argument("--kv-cache-dtype", choices=["auto", "fp8", "fp16", "bf16"], default="auto",
                        help="KV cache precision (vLLM's flag; auto, the default: 16-bit)")
    parser.add_argument("--calibration", default="default",
                        help="calibration profile: default, none (pure roofline) or a profile name")
    parser.add_argument("--batch", type=int_range(1, 1_000_000), default=1, help="sequences in the batch (default 1)")
    parser.add_argument("--input-len", type=int_range(1, 10_000_000), default=512, help="prompt tokens (default 512)")
    parser.add_argument("--context-len", type=int_range(1, 10_000_000), help="decode context tokens (default: --input-len)")


def positive(args: argparse.Namespace, *names: str) -> None:
    """Reject non-positive integer flags."""
    for name in names:
        value = getattr(args, name)
        if value is not None and value < 1:
            raise UsageError(f"must be >= 1, got {value}", field="--" + name.replace("_", "-"))


def build_cost_model(args: argparse.Namespace):  # noqa: ANN201 - CostModel, imported lazily
    """The CostModel the flags describe."""
    from llmsim.cost import CostModel, get_hardware, load_model_spec, precision_from_dtype

    positive(args, "tp", "batch", "input_len", "context_len")
    try:
        hw = get_hardware(args.hardware, args.hardware_file)
    except UnknownHardwareError as err:
        err.field = err.field or "--hardware"
        raise
    try:
        spec = load_model_spec(args.model)
    except UnknownModelError as err:
        err.field = err.field or "--model"
        raise
    calibration = None if args.calibration == "none" else args.calibration
    return CostModel(spec, hw, tp=args.tp, precision=precision_from_dtype(args.dtype, args.kv_cache_dtype),
                     calibration=calibration)


def context_len(args: argparse.Namespace) -> int:
    """Decode context: --context-len, else --input-len."""
    return args.context_len if args.context_len is not None else args.input_len


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `cost` subcommand."""
    parser = subparsers.add_parser("cost", help="prefill and decode iteration times from the roofline cost model")
    add_model_args(parser)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(handler=run)


def report(args: argparse.Namespace) -> dict:
    """The figures `llmsim cost` prints."""
    cm = build_cost_model(args)
    batch, length, ctx = args.batch, args.input_len, context_len(args)
    return {
        "model": cm.spec.name,
        "hardware": cm.hw.id,
        "tp": cm.tp,
        "dtype": args.dtype,
        "kv_cache_dtype": "fp8" if cm.precision.kv_bits == 8 else "16-bit",
        "calibration": cm.profile.name,
        "batch": batch,
        "input_len": length,
        "context_len": ctx,
        "prefill_s": cm.prefill_s(batch, length),
        "decode_step_s": cm.decode_step_s(batch, ctx),
        "weight_bytes_per_gpu": cm.weight_bytes_per_gpu,
        "fits": fit_note(cm, args),
        "kv_bytes_per_token_per_gpu": cm.kv_bytes_per_token_per_gpu,
        "breakdown": {
            "prefill_s": cm.breakdown_s([length] * batch, [0] * batch, []),
            "decode_step_s": cm.breakdown_s([], [], [ctx] * batch),
        },
    }


def fit_note(cm, args: argparse.Namespace) -> dict:  # noqa: ANN001 - CostModel, imported lazily
    """Do weights, activations and a KV cache fit one GPU (vLLM's default serving options)? If not, what would."""
    from llmsim.commands.models import smallest_tp
    from llmsim.config.environment import ServingOptions
    from llmsim.memory.planner import plan_replica
    from llmsim.memory.sizing import placed_options

    opts = placed_options(ServingOptions(), cm.spec.name, cm.hw.id, int(cm.hw.memory_bytes))
    plan = plan_replica(cm, int(cm.hw.memory_bytes), opts.gpu_memory_utilization, opts.token_budget,
                        opts.block_size, opts.seq_limit)
    if plan.fits:
        return {"fits": True, "kv_blocks": plan.kv_blocks, "note": f"fits at tp={cm.tp}: room for {plan.kv_blocks} KV blocks of {opts.block_size} tokens per replica "
                "(90% of GPU memory, vLLM defaults)"}
    needed = smallest_tp(cm.spec.name, cm.hw.id, args.dtype, args.hardware_file)
    hint = f"the smallest TP that fits is {needed}" if needed else "it does not fit even at TP16"
    return {"fits": False, "smallest_tp": needed, "note": f"DOES NOT FIT: {plan.reason}; {hint}"}


def run(args: argparse.Namespace) -> int:
    """Print the prefill / decode figures (text or JSON)."""
    data = report(args)
    if args.json:
        print(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode())
        return 0
    kv = ", fp8 KV" if data["kv_cache_dtype"] == "fp8" else ""
    print(f"{data['model']} on {data['tp']}x {data['hardware']} ({data['dtype']}{kv}, calibration {data['calibration']})")
    print(f"prefill  batch {data['batch']} x {data['input_len']} tokens: {data['prefill_s'] * 1e3:10.3f} ms")
    print(f"decode   batch {data['batch']} at context {data['context_len']}: {data['decode_step_s'] * 1e3:10.3f} ms")
    print(f"weights per GPU {data['weight_bytes_per_gpu'] / 2**30:.2f} GiB; "
          f"KV per token per GPU {data['kv_bytes_per_token_per_gpu'] / 1024:.1f} KiB")
    print(data["fits"]["note"])
    print(f"\n{'component':28} {'prefill ms':>12} {'decode ms':>12}")
    pre, dec = data["breakdown"]["prefill_s"], data["breakdown"]["decode_step_s"]
    for name in dict.fromkeys([*pre, *dec]):
        print(f"{name:28} {pre.get(name, 0.0) * 1e3:12.3f} {dec.get(name, 0.0) * 1e3:12.3f}")
    return 0
