"""Compare every routing policy on one seeded workload and cluster; print a table of latencies.

    python scripts/compare_routing.py [--environment ENV.json] [--input TRACE [--rate R] [--limit N]]
                                      [--requests 3000] [--rate 25] [--policies least-loaded,round-robin]

Your own trace (`--input`, any format `llmsim replay` reads; `--rate` replays it with Poisson
arrivals at R req/s, else at its own times) and cluster (`--environment`, default
llmsim/examples/env_hetero.json). Without `--input` the workload is generated from the Azure code
trace's length distribution when the shared data is present (next to the repository, or
LLMSIM_SHARED_DATA), else a lognormal, with Poisson arrivals. Every policy sees the same requests.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from llmsim.cli import main as cli_main  # noqa: E402
from llmsim.errors import LlmsimError  # noqa: E402
from llmsim.options import ReplayOptions  # noqa: E402
from llmsim.policies import ROUTING_POLICIES  # noqa: E402
from llmsim.replay import run_replay  # noqa: E402

SHARED_DATA = Path(os.environ.get("LLMSIM_SHARED_DATA", ROOT / ".." / "shared" / "data"))
AZURE_CODE = SHARED_DATA / "traces" / "AzureLLMInferenceTrace_code.csv"


def make_trace(path: Path, n: int, rate: float, seed: int) -> None:
    """Write a canonical trace with `llmsim generate`."""
    lengths = ["--lengths-from", str(AZURE_CODE)] if AZURE_CODE.exists() else []
    rc = cli_main(["generate", "--count", str(n), "--arrival-rate", str(rate), "--seed", str(seed),
                   "--model", "llama-3.1-8b-instruct", "--max-tokens", "8000", *lengths, "-o", str(path)])
    if rc:
        raise SystemExit(rc)


def run_policy(trace: Path, env: str, policy: str, args: argparse.Namespace) -> dict:
    """Replay once with a policy, outputs off; return stats."""
    opts = ReplayOptions(input=str(trace), environment=env, routing_policy=policy, seed=args.seed, write_outputs=False,
                         quiet=True, load_report_interval=args.load_report_interval, limit=args.limit,
                         arrival_rate=args.rate if args.input else None)
    return run_replay(opts).stats


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--environment", default=str(ROOT / "llmsim" / "examples" / "env_hetero.json"))
    ap.add_argument("--input", help="your trace (default: a generated one)")
    ap.add_argument("--limit", type=int, help="with --input: at most this many requests")
    ap.add_argument("--requests", type=int, default=3000, help="generated requests (without --input)")
    ap.add_argument("--rate", type=float, help="Poisson arrivals per second (default 25 when generating; "
                                               "with --input: the trace's own times)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--load-report-interval", type=float, default=0.0)
    ap.add_argument("--policies", help="comma-separated routing policies (default: all)")
    args = ap.parse_args()
    policies = args.policies.split(",") if args.policies else list(ROUTING_POLICIES)
    unknown = [p for p in policies if p not in ROUTING_POLICIES]
    if unknown:
        print(f"compare_routing: unknown policy {unknown[0]!r} (expected one of {', '.join(ROUTING_POLICIES)})",
              file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        if args.input:
            trace = Path(args.input)
            what = f"{trace.name}" + (f" at {args.rate}/s" if args.rate else "") + (f", first {args.limit}" if args.limit else "")
        else:
            trace = Path(tmp) / "trace.jsonl"
            args.rate = args.rate or 25.0
            make_trace(trace, args.requests, args.rate, args.seed)
            what = f"{args.requests} generated requests at {args.rate}/s"
            args.rate = None  # the generated trace carries its arrival times
        print(f"{what} on {Path(args.environment).name}, seed {args.seed}, "
              f"load reports every {args.load_report_interval or 'change'}")
        print(f"{'policy':<14}{'TTFT p50':>10}{'TTFT p99':>10}{'TPOT p50':>10}{'TPOT p99':>10}{'E2E p99':>9}{'req/s':>8}")
        for policy in policies:
            try:
                s = run_policy(trace, args.environment, policy, args)
            except LlmsimError as err:
                print(f"compare_routing: error: {err.one_line()}", file=sys.stderr)
                return 2
            lat = s["latency"]
            print(f"{policy:<14}{lat['ttft_s']['p50'] * 1e3:>8.0f}ms{lat['ttft_s']['p99'] * 1e3:>8.0f}ms"
                  f"{lat['tpot_s']['p50'] * 1e3:>8.1f}ms{lat['tpot_s']['p99'] * 1e3:>8.1f}ms"
                  f"{lat['e2e_s']['p99']:>8.2f}s{s['throughput']['requests_per_s']:>8.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
