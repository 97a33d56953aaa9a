"""Replay one trace co-located and disaggregated at several P:D ratios; print a markdown table.

    python scripts/compare_disagg.py --input TRACE [--ratios both,2:6,4:4,6:2] [--gpus 8] [--gpu nvidia_H100_SXM]
                                     [--model llama-3.1-8b-instruct] [--tp 1] [--time-scale X] [ENV.json ...]

Each ratio is one node of `--gpus` GPUs (NVLink), warm: `both` = every replica co-located, `P:D`
= P prefill and D decode replicas of `--tp` GPUs each. Env files given too are replayed as they
are. Same trace, seed and options for all, without outputs; the table has TTFT and TPOT p50/p99,
throughput, the KV transfer time p50/p99, the wait for decode KV blocks p99 and each pool's busy
fraction (docs/disaggregation.md reads one such table).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from llmsim.errors import LlmsimError  # noqa: E402
from llmsim.options import ReplayOptions  # noqa: E402
from llmsim.replay import run_replay  # noqa: E402

HEADER = ("| cluster | TTFT p50 / p99 (ms) | TPOT p50 / p99 (ms) | req/s | out tok/s | transfer p50 / p99 (ms) "
          "| wait for decode KV p99 (ms) | busy P / D | wall (s) |\n|---|---|---|---|---|---|---|---|---|")


def _ms(summary: dict[str, Any]) -> str:
    return "-" if not summary.get("count") else f"{summary['p50'] * 1e3:.1f} / {summary['p99'] * 1e3:.1f}"


def row(name: str, stats: dict[str, Any]) -> str:
    """One table row from a run's stats.json document."""
    lat, th, d = stats["latency"], stats["throughput"], stats.get("disaggregation")
    if d:
        t, pools = d["transfers"], d["pools"]
        transfer, wait = _ms(t["transfer_s"]), f"{(t['wait_for_decode_s']['p99'] or 0) * 1e3:.1f}"
        busy = f"{pools['prefill']['busy_fraction']:.0%} / {pools['decode']['busy_fraction']:.0%}"
    else:
        transfer = wait = busy = "-"
    return (f"| {name} | {_ms(lat['ttft_s'])} | {_ms(lat['tpot_s'])} | {th['requests_per_s']:.1f} | "
            f"{th['output_tokens_per_s']:.0f} | {transfer} | {wait} | {busy} | {stats['simulation']['wall_s']:.1f} |")


def ratio_env(folder: Path, ratio: str, args: argparse.Namespace) -> Path:
    """An env.json for one ratio: `both`, or `P:D` replicas of the model on one node."""
    model = args.model
    if ratio == "both":
        deps = [{"model": model, "tp": args.tp, "replicas": args.gpus // args.tp}]
    else:
        p, d = (int(x) for x in ratio.split(":"))
        deps = [{"model": model, "tp": args.tp, "replicas": p, "role": "prefill"},
                {"model": model, "tp": args.tp, "replicas": d, "role": "decode"}]
    nodes = [{"node_id": 1, "gpu_types": [args.gpu], "gpu_count_per_type": [args.gpus], "interconnect": "nvlink",
              "deployments": deps}]
    if args.across_nodes and ratio != "both":  # prefill on node 1, decode on node 2: KV over the network
        nodes = [{"node_id": i + 1, "gpu_types": [args.gpu], "gpu_count_per_type": [dep["replicas"] * args.tp],
                  "interconnect": "nvlink", "network_bandwidth_gbps": args.network_gbps, "deployments": [dep]}
                 for i, dep in enumerate(deps)]
    env = {"description": ratio, "model_loading_config": {"preload_models": True}, "nodes": nodes}
    name = "co-located" if ratio == "both" else ratio.replace(":", "P") + "D" + (" (2 nodes)" if args.across_nodes else "")
    path = folder / f"{name}.json"
    path.write_text(json.dumps(env))
    return path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--input", required=True)
    ap.add_argument("environments", nargs="*", metavar="ENV.json")
    ap.add_argument("--ratios", default="both,2:6,4:4,6:2")
    ap.add_argument("--gpus", type=int, default=8)
    ap.add_argument("--gpu", default="nvidia_H100_SXM")
    ap.add_argument("--model", default="llama-3.1-8b-instruct")
    ap.add_argument("--tp", type=int, default=1)
    ap.add_argument("--across-nodes", action="store_true", help="prefill and decode pools on two nodes")
    ap.add_argument("--network-gbps", type=float, default=100.0, help="with --across-nodes: each node's network")
    ap.add_argument("--time-scale", type=float, default=1.0)
    ap.add_argument("--routing-policy", default="least-loaded")
    ap.add_argument("--limit", type=int, default=None)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="compare_disagg_") as tmp:
        envs = [str(ratio_env(Path(tmp), r, args)) for r in args.ratios.split(",") if r] + list(args.environments)
        return _compare(envs, args)


def _compare(envs: list[str], args: argparse.Namespace) -> int:
    print(HEADER)
    for env in envs:
        opts = ReplayOptions(input=args.input, environment=env, time_scale=args.time_scale, limit=args.limit,
                             routing_policy=args.routing_policy, write_outputs=False, quiet=True)
        try:
            result = run_replay(opts)
        except LlmsimError as err:
            print(f"compare_disagg: {err}", file=sys.stderr)
            return 2
        print(row(Path(env).stem, result.stats), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
