"""Replay measured serving iterations through the GPU actor and report prediction error.

    python scripts/validate_serving.py [--data ../shared/data] [--calibration default]   (or LLMSIM_SHARED_DATA=DIR)

Two sources, each replayed through the real serving engine (scheduler, KV cache, cost service):
- Sarathi-Serve fig2 (Yi-34B, 2x A100-80GB PCIe with pairwise NVLink, TP2): decode-only
  batches of 1..128 sequences and prefill-only iterations of 128..16384 tokens. The paper does
  not give the decode context; 1024 tokens is assumed.
- Splitwise (Llama-2-70B, DGX-A100 / DGX-H100, TP 2/4/8): decode iteration time (token_time)
  at batch sizes 1..64 with 512-token prompts.
For each point it prints prediction, measurement and error, then the MAPE per source, for the
chosen profile, the profile fitted on that source, and the pure roofline.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
from collections import defaultdict
from pathlib import Path

os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from actors.cost_service import CostServiceActor  # noqa: E402
from llmsim.config.environment import ServingOptions  # noqa: E402
from llmsim.output.events import IterationRun  # noqa: E402
from llmsim.testing import ReplicaHarness  # noqa: E402
from protocols.cost import Deployment  # noqa: E402
from protocols.requests import RequestSpec  # noqa: E402

SARATHI_KINDS = ("decode", "prefill")
SARATHI_HW_FILE = str(ROOT / "llmsim" / "examples" / "hardware_a100_pcie_nvlink.json")
SARATHI_HW = "nvidia_A100_80G_PCIe_NVLink"
SARATHI_CONTEXT = 1024
SPLITWISE_HW = {"a100-80gb": "nvidia_A100_80G_SXM", "h100-80gb": "nvidia_H100_SXM"}


def replay_iterations(dep: Deployment, calibration: str | None, reqs: list[RequestSpec], budget: int,
                      hw_file: str | None, decode_only: bool) -> float:
    """Mean duration (s) of decode-only (or prefill-only) iterations of this batch on one replica."""
    opts = ServingOptions(max_num_batched_tokens=budget, max_num_seqs=max(256, len(reqs)))
    cost = CostServiceActor("cost", calibration=calibration, hardware_file=hw_file)
    h = ReplicaHarness(reqs, opts, kv_blocks=1_000_000, cost_actor=cost, deployment=dep).run()
    runs = [r for r in h.events_of(IterationRun)
            if (r.prefill_tokens == 0 if decode_only else r.decode_tokens == 0) and r.batch_size == len(reqs)]
    total_ns = sum(r.t_ns - r.start_ns for r in runs)
    return total_ns / sum(r.iterations for r in runs) / 1e9


def sarathi_points(data: Path) -> list[tuple[str, dict]]:
    """(label, row) for fig2 decode and prefill rows."""
    out = []
    for kind in SARATHI_KINDS:
        with open(data / "profiles" / f"fig2_{kind}_yi34b_2xA100.csv") as fh:
            out += [(kind, row) for row in csv.DictReader(fh)]
    return out


def predict_sarathi(kind: str, row: dict, calibration: str | None) -> tuple[str, float, float]:
    dep = Deployment(model="yi-34b", hardware=SARATHI_HW, tp=2)
    if kind == "decode":
        b = int(float(row["batch_size"]))
        # Prompts of SARATHI_CONTEXT tokens: after the prefill the batch decodes at that context.
        reqs = [RequestSpec(id=f"r{i}", model="yi-34b", input_tokens=SARATHI_CONTEXT, output_tokens=4, arrival_ns=0)
                for i in range(b)]
        pred = replay_iterations(dep, calibration, reqs, budget=SARATHI_CONTEXT * b, hw_file=SARATHI_HW_FILE,
                                 decode_only=True)
        label = f"decode b={b}"
    else:
        n = int(row["batch_num_prefill_tokens"])
        reqs = [RequestSpec(id="r0", model="yi-34b", input_tokens=n, output_tokens=1, arrival_ns=0)]
        pred = replay_iterations(dep, calibration, reqs, budget=n, hw_file=SARATHI_HW_FILE, decode_only=False)
        label = f"prefill {n} tok"
    return label, pred, float(row["batch_execution_time"])


def splitwise_points(data: Path) -> dict[tuple[str, int, int], list[float]]:
    """token_time (s) samples per (hardware, batch, tp) for llama2-70b with 512-token prompts."""
    points: dict[tuple[str, int, int], list[float]] = defaultdict(list)
    with open(data / "profiles" / "splitwise_perf_model.csv") as fh:
        for row in csv.DictReader(fh):
            if row["model"] == "llama2-70b" and row["hardware"] in SPLITWISE_HW and row["prompt_size"] == "512":
                points[(row["hardware"], int(row["batch_size"]), int(row["tensor_parallel"]))].append(
                    float(row["token_time"]) / 1e3)
    return points


def predict_splitwise(key: tuple[str, int, int], calibration: str | None) -> float:
    hw, b, tp = key
    dep = Deployment(model="llama-2-70b-hf", hardware=SPLITWISE_HW[hw], tp=tp)
    reqs = [RequestSpec(id=f"r{i}", model="llama-2-70b-hf", input_tokens=512, output_tokens=128, arrival_ns=0)
            for i in range(b)]
    return replay_iterations(dep, calibration, reqs, budget=512 * b, hw_file=None, decode_only=True)


def mape(rows: list[tuple[float, float]]) -> float:
    return 100 * sum(abs(p - m) / m for p, m in rows) / len(rows)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=os.environ.get("LLMSIM_SHARED_DATA", str(ROOT / ".." / "shared" / "data")),
                    help="the shared data folder (default: $LLMSIM_SHARED_DATA, else ../shared/data)")
    ap.add_argument("--calibration", default="default")
    args = ap.parse_args()
    data = Path(args.data)
    needed = [data / "profiles" / name for name in (*(f"fig2_{k}_yi34b_2xA100.csv" for k in SARATHI_KINDS),
                                                     "splitwise_perf_model.csv")]
    missing = [str(p) for p in needed if not p.is_file()]
    if missing:
        print(f"validate_serving: measurement file not found: {missing[0]} (pass --data DIR or set "
              "LLMSIM_SHARED_DATA to the shared data folder)", file=sys.stderr)
        return 2
    profiles = {"chosen": args.calibration, "none": None}
    results: dict[str, dict[str, list[tuple[float, float]]]] = defaultdict(lambda: defaultdict(list))

    print(f"Sarathi-Serve fig2, Yi-34B TP2 on 2x A100-80GB PCIe+NVLink (profile {args.calibration!r})")
    for kind, row in sarathi_points(data):
        for name, cal in {**profiles, "fitted": "sarathi-a100"}.items():
            label, pred, meas = predict_sarathi(kind, row, cal)
            results["sarathi"][name].append((pred, meas))
            if name == "chosen":
                print(f"  {label:<20} predicted {pred * 1e3:9.2f} ms  measured {meas * 1e3:9.2f} ms  "
                      f"error {100 * (pred - meas) / meas:+6.1f}%")

    print(f"Splitwise decode token_time, Llama-2-70B, 512-token prompts (profile {args.calibration!r})")
    for key, samples in sorted(splitwise_points(data).items()):
        meas = sum(samples) / len(samples)
        hw = "a100" if key[0].startswith("a100") else "h100"
        for name, cal in {**profiles, "fitted": f"splitwise-{hw}"}.items():
            pred = predict_splitwise(key, cal)
            results["splitwise"][name].append((pred, meas))
            if name == "chosen":
                print(f"  {key[0]:<10} b={key[1]:<3} tp={key[2]}  predicted {pred * 1e3:8.2f} ms  "
                      f"measured {meas * 1e3:8.2f} ms  error {100 * (pred - meas) / meas:+6.1f}%")

    print("\nMAPE % per source")
    print(f"{'source':<10}{'points':>8}{args.calibration + ' profile':>18}{'fitted on source':>18}{'pure roofline':>15}")
    for source, by_profile in results.items():
        print(f"{source:<10}{len(by_profile['chosen']):>8}{mape(by_profile['chosen']):>18.1f}"
              f"{mape(by_profile['fitted']):>18.1f}{mape(by_profile['none']):>15.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
