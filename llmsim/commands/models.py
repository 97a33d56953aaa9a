"""`llmsim models`: the known models, their size, weight and KV bytes, and the smallest TP that fits each GPU."""

from __future__ import annotations

import argparse
from typing import Any

import orjson

from llmsim.cost.precision import DTYPES

GIB = 1 << 30
SHOWN_DTYPES = ("fp16", "fp8", "int4")


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the `models` subcommand."""
    p = sub.add_parser("models", help="list the known models: parameters, weight and KV bytes, TP that fits each GPU",
                       description="List the model configurations shipped with llmsim (any Hugging Face config.json "
                                   "folder works too) and, per GPU type, the smallest tensor-parallel degree whose "
                                   "weights, activations and a KV cache fit (vLLM's default serving options).")
    p.add_argument("--dtype", default="fp16", choices=list(DTYPES), help="precision for the fit (default fp16)")
    p.add_argument("--hardware-file", help="JSON file adding GPU types")
    p.add_argument("--json", action="store_true", help="print the table as JSON")
    p.set_defaults(handler=run)


def smallest_tp(model: str, gpu_type: str, dtype: str, hardware_file: str | None) -> int | None:
    """The TP degree a replica of `model` needs on `gpu_type` (None: not even at 16), default serving options."""
    from llmsim.config.environment import ServingOptions
    from llmsim.cost import get_hardware, precision_from_dtype
    from llmsim.memory.sizing import TP_CHOICES, size_replica

    memory = int(get_hardware(gpu_type, hardware_file).memory_bytes)
    dep, plan = size_replica(model, gpu_type, gpus=max(TP_CHOICES), memory_bytes=memory, opts=ServingOptions(),
                             precision=precision_from_dtype(dtype), calibration=None, hardware_file=hardware_file)
    return dep.tp if plan.fits else None


def rows(dtype: str, hardware_file: str | None) -> list[dict[str, Any]]:
    """One entry per shipped model."""
    from llmsim.cost import CostModel, get_hardware, hardware_ids, load_model_spec, precision_from_dtype
    from llmsim.cost.model_spec import shipped_model_names

    gpus = hardware_ids(hardware_file)
    any_gpu = get_hardware(gpus[0], hardware_file)
    out = []
    for name in shipped_model_names():
        spec = load_model_spec(name)
        per_dtype = {d: CostModel(spec, any_gpu, tp=1, precision=precision_from_dtype(d), calibration=None)
                     for d in SHOWN_DTYPES}
        out.append({
            "model": name, "parameters": spec.param_count, "active_parameters": spec.active_param_count,
            "weight_bytes": {d: int(cm.weight_bytes_per_gpu) for d, cm in per_dtype.items()},
            "kv_bytes_per_token": {d: int(cm.kv_bytes_per_token_per_gpu) for d, cm in per_dtype.items()},
            "smallest_tp": {g: smallest_tp(name, g, dtype, hardware_file) for g in gpus},
        })
    return out


def _fits_text(smallest: dict[str, int | None]) -> str:
    by_tp: dict[int | None, list[str]] = {}
    for gpu, tp in smallest.items():
        by_tp.setdefault(tp, []).append(gpu)
    parts = [f"TP{tp}: {', '.join(by_tp[tp])}" for tp in sorted(t for t in by_tp if t is not None)]
    if None in by_tp:
        parts.append(f"not at TP16: {', '.join(by_tp[None])}")
    return "; ".join(parts)


def run(args: argparse.Namespace) -> int:
    """Print the table (text or JSON)."""
    table = rows(args.dtype, args.hardware_file)
    if args.json:
        print(orjson.dumps({"dtype_for_fit": args.dtype, "models": table}, option=orjson.OPT_INDENT_2).decode())
        return 0
    print(f"{'model':26} {'params':>8} {'active':>8}   {'weights GiB (fp16 / fp8 / int4)':>31}   {'KV KiB/token fp16':>17}")
    for r in table:
        w = " / ".join(f"{r['weight_bytes'][d] / GIB:6.1f}" for d in SHOWN_DTYPES)
        print(f"{r['model']:26} {r['parameters'] / 1e9:7.1f}B {r['active_parameters'] / 1e9:7.1f}B   {w:>31}   "
              f"{r['kv_bytes_per_token']['fp16'] / 1024:17.0f}")
    print(f"\nsmallest tensor-parallel degree that fits ({args.dtype}; weights + activations + at least one KV "
          f"block in 90% of the GPU's memory):")
    for r in table:
        print(f"  {r['model']}: {_fits_text(r['smallest_tp'])}")
    print("\nAny model folder or config.json path works as --model too (Hugging Face config format).")
    return 0
