"""`llmsim replay`: replay a request trace through a simulated cluster and write its outputs."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

import orjson

from llmsim.commands.argtypes import positive_float, positive_int
from llmsim.interrupt import exit_status
from llmsim.options import ReplayOptions
from llmsim.output.chrome_trace import DEFAULT_DETAIL, DETAIL_LEVELS
from llmsim.workload.arrivals import ARRIVAL_PROCESSES
from llmsim.workload.formats import TRACE_FORMATS



def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text} is negative (expected an integer >= 0)")
    return value


def _non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text} is not a finite number >= 0")
    return value


def _tp(text: str) -> int:
    value = positive_int(text)
    if value not in (1, 2, 4, 8, 16):
        raise argparse.ArgumentTypeError(f"{text} is not 1, 2, 4, 8 or 16")
    return value


def _fraction(text: str) -> float:
    value = positive_float(text)
    if value > 1:
        raise argparse.ArgumentTypeError(f"{text} is not in (0, 1]")
    return value


def _bounded(low: float, high: float, what: str) -> Callable[[str], float]:
    """A float type accepting [low, high]: outside, virtual time would overflow or make no sense."""

    def parse(text: str) -> float:
        value = positive_float(text)
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{text} is out of range (expected {what} from {low:g} to {high:g})")
        return value

    return parse


def _slo(text: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for part in text.split(","):
        key, _, value = part.partition("=")
        if key.strip() not in ("ttft", "tpot") or not value:
            raise argparse.ArgumentTypeError(f"bad SLO part {part!r} (expected ttft=SECONDS,tpot=SECONDS)")
        out[key.strip()] = positive_float(value)
    return out


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the `replay` subcommand."""
    p = sub.add_parser("replay", help="replay a JSONL trace through a simulated cluster",
                       description="Replay a request trace. With no arguments, replays the bundled example. "
                                   "Every option can also come from a TOML file (--config); flags override it.",
                       argument_default=argparse.SUPPRESS)
    add_arguments(p)
    p.set_defaults(handler=run)


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The replay options. Defaults live in ReplayOptions: an option not given is absent from the namespace."""
    p.add_argument("--config", "-c", metavar="RUN.toml",
                   help="run configuration file: keys are ReplayOptions fields (as in stats.json's run.config)")
    p.add_argument("--input", "-i", help="request trace (seed JSONL, canonical JSONL, Azure/BurstGPT/Vidur CSV, Mooncake)")
    p.add_argument("--format", dest="trace_format", choices=TRACE_FORMATS, help="trace format (default: detect)")
    p.add_argument("--environment", "-e", help="cluster description env.json")
    p.add_argument("--environment-change-file", help="JSONL of GPU additions/removals over time")
    p.add_argument("--n-engines", type=positive_int, help="legacy mode: N identical single-GPU engines (or TP groups)")
    p.add_argument("--hardware", help="GPU id for --n-engines (default nvidia_A100)")
    p.add_argument("--hardware-file", help="JSON file adding GPU types to the hardware table")
    p.add_argument("--tp", type=_tp, help="tensor-parallel degree in --n-engines mode")
    p.add_argument("--dtype", choices=["fp16", "bf16", "fp8", "int8", "int4"], help="precision of every deployment")
    p.add_argument("--model", help="override every request's model (known name, or folder/file with config.json)")
    p.add_argument("--default-model",
                   help="model for requests whose trace has no model field")
    p.add_argument("--arrival-rate", type=_bounded(1e-6, 1e9, "requests/s"), help="Poisson arrivals at this many requests/s")
    p.add_argument("--arrival-process", choices=ARRIVAL_PROCESSES,
                   help="with --arrival-rate: poisson (default), gamma (needs --burstiness) or constant (fixed gap)")
    p.add_argument("--burstiness", type=_bounded(1e-3, 100.0, "a coefficient of variation"), help="Gamma inter-arrival coefficient of variation")
    p.add_argument("--concurrency", type=positive_int,
                   help="closed loop: N clients, each sends its next request when its previous one ends")
    p.add_argument("--think-time", dest="think_time_s", type=_non_negative_float,
                   help="with --concurrency: seconds a client waits before its next request (default 0)")
    p.add_argument("--time-scale", type=_bounded(1e-6, 1e9, "a speed-up factor"), help="speed up a timestamped trace by X")
    p.add_argument("--start", dest="start_s", type=_non_negative_float, help="window start (s, trace time)")
    p.add_argument("--duration", dest="duration_s", type=positive_float, help="window length (s)")
    p.add_argument("--limit", type=_count, help="read at most this many requests")
    p.add_argument("--seed", type=int, help="random seed (default 0)")
    p.add_argument("--output-dir", "-o", help="output folder")
    p.add_argument("--trace-output", help="Chrome trace path (default OUTPUT_DIR/trace.json)")
    p.add_argument("--stats-output", help="statistics path (default OUTPUT_DIR/stats.json)")
    p.add_argument("--trace-detail", choices=list(DETAIL_LEVELS),
                   help="Chrome trace detail: 'requests' = request lifetimes, routing, loads; 'iterations' adds "
                        "a slice and queue/KV counters per run of GPU iterations; 'auto' (default) = iterations "
                        "for the first 100,000 runs, then requests (keeps 100k-request runs near 200 MB)")
    p.add_argument("--no-outputs", action="store_true", help="write nothing (benchmarks)")
    p.add_argument("--print-interval", type=_non_negative_float, help="progress every N simulated seconds")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress output")
    p.add_argument("--load-report-interval", type=_non_negative_float,
                   help="seconds between replica load reports to the router (0 = every change)")
    p.add_argument("--reprovisioning-policy",
                   help="node to switch when no replica serves a model: random, least-recently-used, least-loaded")
    p.add_argument("--routing-policy", help="random, round-robin, least-loaded, ...")
    p.add_argument("--preempt-on-reprovision", action="store_true", help="re-route a switched node's requests")
    p.add_argument("--calibration", help="calibration profile ('none' = pure roofline)")
    p.add_argument("--step-mode", action="store_true", help="one event per iteration (no fast-forward)")
    p.add_argument("--strict", action="store_true", help="invalid requests are errors, not skipped")
    p.add_argument("--max-num-batched-tokens", type=positive_int, help="token budget per iteration (vLLM default 2048)")
    p.add_argument("--max-num-seqs", type=positive_int, help="sequences per batch (vLLM default 256)")
    p.add_argument("--block-size", type=positive_int, help="KV block size in tokens (default 16)")
    p.add_argument("--gpu-memory-utilization", type=_fraction, help="fraction of GPU memory used (default 0.9)")
    p.add_argument("--no-chunked-prefill", dest="enable_chunked_prefill", action="store_const", const=False)
    p.add_argument("--scheduling", choices=["fcfs", "priority"],
                   help="waiting-queue order: fcfs (default) or by request priority (lower first)")
    p.add_argument("--slo", type=_slo, help="SLO targets, e.g. ttft=0.5,tpot=0.05 (seconds)")
    p.add_argument("--json", action="store_true", help="print stats.json to stdout")


# Namespace entries that are not run options.
NOT_OPTIONS = frozenset({"config", "json", "handler", "command", "debug", "log_level", "log_format"})


def given_fields(args: argparse.Namespace) -> dict[str, Any]:
    """The ReplayOptions fields set by flags actually given on the command line."""
    out: dict[str, Any] = {}
    for name, value in vars(args).items():
        if name in NOT_OPTIONS:
            continue
        if name == "no_outputs":
            out["write_outputs"] = not value
        elif name == "slo":
            out.update({f"slo_{k}_s": v for k, v in value.items()})
        elif name == "calibration":
            out["calibration"] = None if value == "none" else value
        else:
            out[name] = value
    return out


def options_from_args(args: argparse.Namespace) -> ReplayOptions:
    """Build ReplayOptions: defaults, then the --config file, then the flags given."""
    from llmsim.runconfig import read_config, resolve_options

    from_file = read_config(args.config) if getattr(args, "config", None) else {}
    return resolve_options(from_file, given_fields(args))


def summary_lines(stats: dict, out_dir: str) -> list[str]:  # type: ignore[type-arg]
    """A short human summary of a run."""
    r, lat, th, sim = stats["requests"], stats["latency"], stats["throughput"], stats["simulation"]
    return [
        f"requests: {r['total']} entered, {r['completed']} completed, {r['failed']} failed"
        + (f" {r['failed_by_reason']}" if r["failed"] else "") + f", {r['skipped_invalid']} skipped (invalid)",
        f"TTFT  p50 {lat['ttft_s']['p50'] * 1e3:.1f} ms  p99 {lat['ttft_s']['p99'] * 1e3:.1f} ms",
        f"TPOT  p50 {lat['tpot_s']['p50'] * 1e3:.2f} ms  p99 {lat['tpot_s']['p99'] * 1e3:.2f} ms",
        f"E2E   p50 {lat['e2e_s']['p50']:.3f} s  p99 {lat['e2e_s']['p99']:.3f} s",
        *(_slo_line(stats["slo"]) if "slo" in stats else []),
        f"throughput {th['requests_per_s']:.2f} req/s, {th['output_tokens_per_s']:.0f} output tok/s",
        f"simulated {sim['simulated_s']:.2f} s in {sim['wall_s']:.2f} s wall, {sim['events']} events",
        *_fidelity_lines(stats.get("fidelity", [])),
        f"outputs in {out_dir}",
    ]


def _fidelity_lines(entries: list[dict]) -> list[str]:  # type: ignore[type-arg]
    """How far to trust the run: per GPU type and model, the validation error of the nearest measurements."""
    out = []
    for f in entries:
        what = f"{f['model']} on {f['gpu_type']} TP{f['tp']}"
        if f["status"] == "validated":
            out.append(f"fidelity {what}: calibration {f['calibration']}, MAPE {f['mape_pct']:.1f}% over "
                       f"{f['points']} measured point(s) ({f['matched']}; {', '.join(f['sources'])})")
        else:
            out.append(f"fidelity {what}: {f['note']}")
    return out


def _slo_line(slo: dict) -> list[str]:  # type: ignore[type-arg]
    """The SLO line of the summary, when targets were given."""
    targets = [f"{name} <= {slo[key] * 1e3:g} ms" for name, key in (("TTFT", "ttft_s"), ("TPOT", "tpot_s"))
               if slo.get(key) is not None]
    if not targets:
        return []
    return [f"SLO {', '.join(targets)}: {slo['attainment']:.1%} of requests met it "
            f"({slo['met']}), goodput {slo['goodput_requests_per_s']:.2f} req/s"]


def run(args: argparse.Namespace) -> int:
    """Handler of `llmsim replay`."""
    from llmsim.replay import run_replay

    opts = options_from_args(args)
    result = run_replay(opts)
    if result.signal:
        reached = result.stats["simulation"]["simulated_s"]
        print(f"llmsim: interrupted at {reached:.3f} simulated s; partial outputs in {opts.output_dir}",
              file=sys.stderr)
    if getattr(args, "json", False):
        sys.stdout.buffer.write(orjson.dumps(result.stats, option=orjson.OPT_INDENT_2) + b"\n")
    else:
        print("\n".join(summary_lines(result.stats, opts.output_dir)))
    if result.signal:
        return exit_status(result.signal)
    return 1 if result.invariants else 0
