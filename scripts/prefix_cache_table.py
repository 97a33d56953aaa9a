"""Prefix-cache hit rate, TTFT and throughput for KV pool sizes x routing policies; prints a Markdown table.

    python scripts/prefix_cache_table.py [--input TRACE] [--n-engines 4] [--hardware nvidia_H100_SXM]
        [--model llama-3.1-8b-instruct] [--memory 0.9,0.5,0.3] [--policies random,least-loaded,prefix-affinity,prefix-scorer]

Defaults: the Mooncake conversation trace (LLMSIM_SHARED_DATA or ../shared/data) at its own
timestamps. The pool size is set through --gpu-memory-utilization (what is left after the
weights holds KV); one run per pool size with prefix caching off gives the baseline. The
trace's ideal hit rate (an infinite cache, as `llmsim workload stats` prints) heads the table.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from llmsim.options import ReplayOptions  # noqa: E402
from llmsim.replay import run_replay  # noqa: E402
from llmsim.workload.formats import open_trace  # noqa: E402
from llmsim.workload.stats import ideal_prefix_hit_rate  # noqa: E402

SHARED = Path(os.environ.get("LLMSIM_SHARED_DATA", ROOT / ".." / "shared" / "data"))


def run(args: argparse.Namespace, memory: float, policy: str, caching: bool) -> dict:
    """One replay, outputs off; its stats."""
    opts = ReplayOptions(input=args.input, n_engines=args.n_engines, hardware=args.hardware, model=args.model,
                         routing_policy=policy, gpu_memory_utilization=memory, write_outputs=False, quiet=True,
                         enable_prefix_caching=caching, limit=args.limit, seed=args.seed)
    return run_replay(opts).stats


def row(memory: float, policy: str, caching: bool, s: dict) -> str:
    lat, pc = s["latency"], s["prefix_cache"]
    kv = sum(g["kv_total_blocks"] for n in s["nodes"].values() for g in n["gpus"])
    hit = "off" if not caching else f"{100 * (pc['hit_rate'] or 0):.1f}%"
    return (f"| {memory:.2f} | {kv:,} | {policy} | {hit} | {lat['ttft_s']['p50']:.3f} | {lat['ttft_s']['p99']:.3f} | "
            f"{s['throughput']['output_tokens_per_s']:.0f} | {s['simulation']['wall_s']:.1f} |")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--input", default=str(SHARED / "traces" / "mooncake_conversation_trace.jsonl"))
    p.add_argument("--n-engines", type=int, default=4)
    p.add_argument("--hardware", default="nvidia_H100_SXM")
    p.add_argument("--model", default="llama-3.1-8b-instruct")
    p.add_argument("--memory", default="0.9,0.5,0.3", help="gpu-memory-utilization values (pool sizes)")
    p.add_argument("--policies", default="random,least-loaded,prefix-affinity,prefix-scorer")
    p.add_argument("--limit", type=int)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    requests = list(open_trace(args.input))[: args.limit]
    print(f"{args.input}: {len(requests)} requests; ideal hit rate (infinite cache) "
          f"{100 * ideal_prefix_hit_rate(requests):.1f}%; {args.n_engines} x {args.hardware}, {args.model}\n")
    print("| gpu mem util | KV blocks (all replicas) | routing | hit rate | TTFT p50 s | TTFT p99 s | output tok/s | wall s |")
    print("|---|---|---|---|---|---|---|---|")
    for memory in [float(x) for x in args.memory.split(",")]:
        print(row(memory, "least-loaded", False, run(args, memory, "least-loaded", False)), flush=True)
        for policy in args.policies.split(","):
            print(row(memory, policy, True, run(args, memory, policy, True)), flush=True)


if __name__ == "__main__":
    main()
