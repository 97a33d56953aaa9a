"""Compare every routing policy on one seeded workload and cluster; print a table of latencies.

    python scripts/compare_routing.py [--environment examples/env_hetero.json] [--requests 3000] [--rate 25]

The workload is generated from the Azure code trace's length distribution when the shared data
is present (else a lognormal), with Poisson arrivals; every policy sees the same requests.
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
from llmsim.options import ReplayOptions  # noqa: E402
from llmsim.policies import ROUTING_POLICIES  # noqa: E402
from llmsim.replay import run_replay  # noqa: E402

AZURE_CODE = ROOT / ".." / "shared" / "data" / "traces" / "AzureLLMInferenceTrace_code.csv"


def make_trace(path: Path, n: int, rate: float, seed: int) -> None:
    """Write a canonical trace with `llmsim generate`."""
    lengths = ["--lengths-from", str(AZURE_CODE)] if AZURE_CODE.exists() else []
    rc = cli_main(["generate", "--count", str(n), "--arrival-rate", str(rate), "--seed", str(seed),
                   "--model", "llama-3.1-8b-instruct", "--max-tokens", "8000", *lengths, "-o", str(path)])
    if rc:
        raise SystemExit(rc)


def run_policy(trace: Path, env: str, policy: str, seed: int, interval: float) -> dict:
    """Replay once with a policy, outputs off; return stats."""
    opts = ReplayOptions(input=str(trace), environment=env, routing_policy=policy, seed=seed, write_outputs=False,
                         quiet=True, load_report_interval=interval)
    return run_replay(opts).stats


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--environment", default=str(ROOT / "llmsim" / "examples" / "env_hetero.json"))
    ap.add_argument("--requests", type=int, default=3000)
    ap.add_argument("--rate", type=float, default=25.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--load-report-interval", type=float, default=0.0)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        trace = Path(tmp) / "trace.jsonl"
        make_trace(trace, args.requests, args.rate, args.seed)
        print(f"{args.requests} requests at {args.rate}/s on {Path(args.environment).name}, seed {args.seed}, "
              f"load reports every {args.load_report_interval or 'change'}")
        print(f"{'policy':<14}{'TTFT p50':>10}{'TTFT p99':>10}{'TPOT p50':>10}{'TPOT p99':>10}{'E2E p99':>9}{'req/s':>8}")
        for policy in ROUTING_POLICIES:
            s = run_policy(trace, args.environment, policy, args.seed, args.load_report_interval)
            lat = s["latency"]
            print(f"{policy:<14}{lat['ttft_s']['p50'] * 1e3:>8.0f}ms{lat['ttft_s']['p99'] * 1e3:>8.0f}ms"
                  f"{lat['tpot_s']['p50'] * 1e3:>8.1f}ms{lat['tpot_s']['p99'] * 1e3:>8.1f}ms"
                  f"{lat['e2e_s']['p99']:>8.2f}s{s['throughput']['requests_per_s']:>8.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
