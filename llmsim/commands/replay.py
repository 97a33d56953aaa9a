"""`llmsim replay`: replay a request trace through a simulated cluster and write its outputs."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

import msgspec
import orjson

from llmsim.commands.argtypes import (
    MAX_SECONDS, SEED, float_range, fraction, int_range, positive_float, positive_int,
)
from llmsim.errors import UsageError
from llmsim.interrupt import exit_status
from llmsim.options import ReplayOptions
from llmsim.output.deployment import Deployment, footer_line, header_lines
from llmsim.output.disagg_stats import disaggregation_line
from llmsim.output.chrome_trace import DETAIL_LEVELS
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


def _tp(text: str) -> int:
    value = positive_int(text)
    if value not in (1, 2, 4, 8, 16):
        raise argparse.ArgumentTypeError(f"{text} is not 1, 2, 4, 8 or 16")
    return value


def _bounded(low: float, high: float, what: str) -> Callable[[str], float]:
    """A float type accepting [low, high]: outside, virtual time would overflow or make no sense."""

    def parse(text: str) -> float:
        value = positive_float(text)
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{text} is out of range (expected {what} from {low:g} to {high:g})")
        return value

    return parse


def slo_targets(text: str) -> dict[str, float]:
    """`ttft=SECONDS,tpot=SECONDS` (either or both) as a dict."""
    out: dict[str, float] = {}
    for part in text.split(","):
        key, _, value = part.partition("=")
        if key.strip() not in ("ttft", "tpot") or not value:
            raise argparse.ArgumentTypeError(f"bad SLO part {part!r} (expected ttft=SECONDS,tpot=SECONDS)")
        if key.strip() in out:
            raise argparse.ArgumentTypeError(f"{key.strip()} given twice (expected each target once)")
        out[key.strip()] = float_range(0, 1e6, above_low=True)(value)
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
    p.add_argument("--n-engines", type=int_range(1, 65_536), help="legacy mode: N identical single-GPU engines (or TP groups)")
    p.add_argument("--hardware", help="GPU id for --n-engines (default nvidia_A100)")
    p.add_argument("--hardware-file", help="JSON file adding GPU types to the hardware table")
    p.add_argument("--tp", type=_tp, help="tensor-parallel degree in --n-engines mode (default 1)")
    p.add_argument("--dtype", choices=["fp16", "bf16", "fp8", "int8", "int4"],
                   help="precision of every deployment (fp8: W8A8 FP8, vLLM's --quantization fp8)")
    p.add_argument("--kv-cache-dtype", choices=["auto", "fp8", "fp16", "bf16"],
                   help="KV cache precision of every deployment (vLLM's flag; auto, the default: 16-bit, "
                        "whatever the weights, or env.json's kv_bits)")
    p.add_argument("--model", help="override every request's model (known name, or folder/file with config.json)")
    p.add_argument("--default-model",
                   help="model for requests whose trace has no model field (needed when the trace names none, "
                        "unless --model is given or env.json deploys one model)")
    p.add_argument("--arrival-rate", type=_bounded(1e-6, 1e9, "requests/s"), help="Poisson arrivals at this many requests/s")
    p.add_argument("--arrival-process", choices=ARRIVAL_PROCESSES,
                   help="with --arrival-rate: poisson (default), gamma (needs --burstiness) or constant (fixed gap)")
    p.add_argument("--burstiness", type=_bounded(1e-3, 100.0, "a coefficient of variation"), help="Gamma inter-arrival coefficient of variation")
    p.add_argument("--concurrency", type=int_range(1, 1_000_000),
                   help="closed loop: N clients, each sends its next request when its previous one ends")
    p.add_argument("--think-time", dest="think_time_s", type=float_range(0, MAX_SECONDS),
                   help="with --concurrency: seconds a client waits before its next request (default 0)")
    p.add_argument("--time-scale", type=_bounded(1e-6, 1e9, "a speed-up factor"), help="speed up a timestamped trace by X")
    p.add_argument("--start", dest="start_s", type=float_range(0, MAX_SECONDS), help="window start (s, trace time)")
    p.add_argument("--duration", dest="duration_s", type=float_range(0, MAX_SECONDS, above_low=True), help="window length (s)")
    p.add_argument("--limit", type=_count, help="read at most this many requests")
    p.add_argument("--seed", type=SEED, help="random seed (default 0)")
    p.add_argument("--output-dir", "-o", help="output folder")
    p.add_argument("--trace-output", help="Chrome trace path (default OUTPUT_DIR/trace.json)")
    p.add_argument("--stats-output", help="statistics path (default OUTPUT_DIR/stats.json)")
    p.add_argument("--trace-detail", choices=list(DETAIL_LEVELS),
                   help="Chrome trace detail: 'requests' = request lifetimes, routing, loads; 'iterations' adds "
                        "a slice and queue/KV counters per run of GPU iterations; 'auto' (default) = iterations "
                        "for the first 100,000 runs, then requests (keeps 100k-request runs near 120 MB)")
    p.add_argument("--no-outputs", action="store_true", help="write nothing (benchmarks)")
    p.add_argument("--print-interval", type=float_range(0, 86_400), help="seconds (wall clock) between progress-line redraws on a terminal (default 1)")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress output")
    p.add_argument("--load-report-interval", type=float_range(0, MAX_SECONDS),
                   help="seconds between replica load reports to the router (0 = every change)")
    p.add_argument("--reprovisioning-policy",
                   help="node to switch when no replica serves a model: random, least-recently-used, least-loaded")
    p.add_argument("--routing-policy", help="random, round-robin, least-loaded, ...")
    p.add_argument("--preempt-on-reprovision", action="store_true", help="re-route a switched node's requests")
    start = p.add_mutually_exclusive_group()
    start.add_argument("--warm-start", dest="model_start", action="store_const", const="warm",
                       help="the initial deployments are in GPU memory at time 0 (default for --n-engines)")
    start.add_argument("--cold-start", dest="model_start", action="store_const", const="cold",
                       help="the initial deployments load their weights first (disk + PCIe + warm-up); "
                            "default with env.json unless its model_loading_config.preload_models is true")
    p.add_argument("--calibration", help="calibration profile ('none' = pure roofline)")
    p.add_argument("--engine", choices=["vllm-v1", "vllm-v0"],
                   help="serving stack: its calibration family and scheduler defaults at once (vllm-v0: "
                        "synchronous scheduling, no prefix caching); options given explicitly win")
    p.add_argument("--step-mode", action="store_true", help="one event per iteration (no fast-forward)")
    p.add_argument("--strict", action="store_true", help="invalid requests are errors, not skipped")
    p.add_argument("--max-num-batched-tokens", type=int_range(1, 10_000_000), help="token budget per iteration (default: the engine's for the GPU; vLLM V1: 8192 "
                   "on GPUs of 70 GiB or more other than the A100, else 2048; --offline 16384 / 8192)")
    p.add_argument("--max-num-seqs", type=int_range(1, 1_000_000), help="sequences per batch (default: the engine's for the GPU; vLLM V1: 1024 on GPUs "
                   "of 70 GiB or more other than the A100, else 256)")
    p.add_argument("--block-size", type=int_range(1, 65_536), help="KV block size in tokens (default 16)")
    p.add_argument("--gpu-memory-utilization", type=fraction, help="fraction of GPU memory used (default 0.9)")
    p.add_argument("--no-chunked-prefill", dest="enable_chunked_prefill", action="store_const", const=False)
    p.add_argument("--no-prefix-caching", dest="enable_prefix_caching", action="store_const", const=False,
                   help="turn off automatic prefix caching (on by default, as in vLLM V1; it needs prefix hashes "
                        "in the trace: Mooncake hash_ids or canonical prefix_hashes)")
    p.add_argument("--no-async-scheduling", dest="async_scheduling", action="store_const", const=False,
                   help="the scheduler waits for each iteration's results before deciding the next batch "
                        "(vLLM before v0.12, and V0); by default it decides one iteration ahead, so a request "
                        "arriving while the GPU is busy starts one iteration later")
    p.add_argument("--disable-custom-all-reduce", dest="disable_custom_all_reduce", action="store_const", const=True,
                   help="every tensor-parallel all-reduce through NCCL rings, as vLLM's flag of that name (and "
                        "vLLM before v0.4.1); by default messages up to 8 MiB take the engine's custom all-reduce")
    p.add_argument("--offline", action="store_true",
                   help="requests go straight to the engine, as with vLLM's LLM class (benchmark_latency, "
                        "benchmark_throughput): no API-server time per request (the calibration's "
                        "frontend_overhead_s)")
    p.add_argument("--host-kv-cache-gb", type=_bounded(0.0, 1e6, "gigabytes of host memory"),
                   help="host memory per node for prefix-cache KV evicted from the GPUs (off by default; "
                        "env.json: host_kv_cache_gb per node); hits there are loaded back over PCIe")
    p.add_argument("--scheduling", choices=["fcfs", "priority"],
                   help="waiting-queue order: fcfs (default) or by request priority (lower first)")
    p.add_argument("--slo", type=slo_targets, help="SLO targets, e.g. ttft=0.5,tpot=0.05 (seconds)")
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
        elif name == "model_start":
            out["start"] = value
        else:
            out[name] = value
    return out


def options_from_args(args: argparse.Namespace) -> ReplayOptions:
    """Build ReplayOptions: defaults, then the --config file, then the flags given (none: the bundled example)."""
    from llmsim.runconfig import read_config, resolve_options

    from_file = read_config(args.config) if getattr(args, "config", None) else {}
    given = given_fields(args)
    _legacy_only({**from_file, **given})
    return resolve_options(from_file, given)


def _legacy_only(given: dict[str, Any]) -> None:
    """--hardware and --tp shape the --n-engines cluster; with env.json they would be ignored: refuse them."""
    if given.get("n_engines") is not None:
        return
    example = given.get("input") is None and given.get("environment") is None
    for option, value in (("--hardware", given.get("hardware")), ("--tp", given.get("tp"))):
        if value is not None:
            where = "the bundled example's env.json" if example else "env.json"
            raise UsageError(f"{option} applies to --n-engines clusters only; {where} sets each node's GPUs",
                             field=option, expected="--n-engines N with it, or the GPUs and tp in env.json")


def summary_lines(stats: dict, outputs: str | None, interrupted: bool = False) -> list[str]:  # type: ignore[type-arg]
    """A short human summary of a run: what ran, what users saw, where the outputs are."""
    r, lat, th, sim = stats["requests"], stats["latency"], stats["throughput"], stats["simulation"]
    deployment = msgspec.convert(stats["deployment"], Deployment)
    return [
        *header_lines(deployment),
        f"requests: {r['total']} entered, {r['completed']} completed, {r['failed']} failed"
        + (f" {r['failed_by_reason']}" if r["failed"] else "") + f", {r['skipped_invalid']} skipped (invalid)",
        *_latency_lines(lat),
        *(_slo_line(stats["slo"]) if "slo" in stats else []),
        *_prefix_cache_line(stats.get("prefix_cache")),
        *disaggregation_line(stats.get("disaggregation")),
        f"throughput {th['requests_per_s']:.2f} req/s, {th['output_tokens_per_s']:.0f} output tok/s",
        f"simulated {sim['simulated_s']:.2f} s in {sim['wall_s']:.2f} s wall, {sim['events']} events",
        *_fidelity_lines(stats.get("fidelity", [])),
        footer_line(outputs, interrupted=interrupted),
    ]


def _prefix_cache_line(pc: dict | None) -> list[str]:  # type: ignore[type-arg]
    """The prefix cache's share of prompt tokens, when the trace let it find any."""
    if not pc or not pc.get("cached_tokens"):
        return []
    host = f", {pc['host_loaded_blocks']} blocks loaded from host memory" if pc.get("host_loaded_blocks") else ""
    return [f"prefix cache: {pc['hit_rate']:.1%} of prompt tokens found cached "
            f"({pc['cached_tokens']:,} of {pc['prompt_tokens']:,}){host}"]


def _latency_lines(lat: dict) -> list[str]:  # type: ignore[type-arg]
    """TTFT, TPOT and E2E percentiles; never a 0.0 ms standing in for 'no samples'."""
    if not lat["ttft_s"].get("count", 1):
        return ["latency: no completed requests"]
    tpot = lat["tpot_s"]
    return [
        f"TTFT  p50 {lat['ttft_s']['p50'] * 1e3:.1f} ms  p99 {lat['ttft_s']['p99'] * 1e3:.1f} ms",
        f"TPOT  p50 {tpot['p50'] * 1e3:.2f} ms  p99 {tpot['p99'] * 1e3:.2f} ms" if tpot.get("count", 1)
        else "TPOT  none (every completed request has one output token)",
        f"E2E   p50 {lat['e2e_s']['p50']:.3f} s  p99 {lat['e2e_s']['p99']:.3f} s",
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
    if slo.get("requests_with_own_targets"):
        targets.append(f"{slo['requests_with_own_targets']} request(s) with their own targets")
    if not targets:
        return []
    share = "no requests" if slo["attainment"] is None else f"{slo['attainment']:.1%} of requests"
    return [f"SLO {', '.join(targets)}: {share} met it "
            f"({slo['met']}), goodput {slo['goodput_requests_per_s']:.2f} req/s"]


def run(args: argparse.Namespace) -> int:
    """Handler of `llmsim replay`."""
    from llmsim.replay import run_replay

    opts = options_from_args(args)
    result = run_replay(opts)
    if result.signal:
        reached = result.stats["simulation"]["simulated_s"]
        print(f"llmsim: interrupted at {reached:.3f} simulated s; "
              f"{footer_line(opts.output_dir if opts.write_outputs else None, interrupted=True)}", file=sys.stderr)
    if getattr(args, "json", False):
        sys.stdout.buffer.write(orjson.dumps(result.stats, option=orjson.OPT_INDENT_2) + b"\n")
    else:
        print("\n".join(summary_lines(result.stats, opts.output_dir if opts.write_outputs else None,
                                          interrupted=bool(result.signal))))
    if result.signal:
        return exit_status(result.signal)
    return 1 if result.invariants else 0
