"""Fit the calibration families of today's engines (vllm-v1, vllm-v0) and write them into calibration.json.

    python scripts/fit_modern.py [--iters 150] [--workers 2] [--write]

Re-simulates the shipped serving points (llmsim/validation/data/serving_points.csv) through the
real replay path for every trial (llmsim/validation/fit.py says what is fitted and why), starting
from the parameters stored with the shipped families (or the physical starting values). Prints the
loss and the parameters; with --write, stores the profiles, both families, `default: vllm-v1` and
the parameters in llmsim/cost/data/calibration.json. Then refresh the fidelity table:
`llmsim validate --write-fidelity llmsim/cost/data/fidelity.json`.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from llmsim.validation import read_points, shipped_points_path  # noqa: E402
from llmsim.validation.fit import (  # noqa: E402
    ENGINES, GENERATIONS, GENERIC, PUBLISHED, START, ModernParams, family_map, fit, loss, shipped_params,
)
from llmsim.validation.report import mape_by  # noqa: E402

CALIBRATION = ROOT / "llmsim" / "cost" / "data" / "calibration.json"


def write(data: dict, params: ModernParams, fit_loss: float, mape_pct: float, n: int, iters: int) -> None:
    """Replace the modern families and their profiles in calibration.json (2023 profiles kept)."""
    generations = (*GENERATIONS, *PUBLISHED, GENERIC)
    names = {f"{e}-{g}" for e in ENGINES for g in generations}
    profiles = [p for p in data["profiles"] if p["name"] not in names]
    import msgspec

    for engine in ENGINES:
        for generation in generations:
            how = (f"fitted by scripts/fit_modern.py on {n} serving points of both engine generations "
                   f"(mean capped |log error| {fit_loss:.4f}; fit_mape_pct over all of them)")
            if generation in PUBLISHED:
                how = ("GEMM and HBM fractions from published microbenchmarks (llmsim.validation.fit.PUBLISHED; "
                       f"no serving measurement of this GPU), the rest {how}")
            prof = msgspec.structs.replace(params.profile(engine, generation), fit_mape_pct=round(mape_pct, 2), how=how)
            profiles.append(msgspec.to_builtins(prof))
    data["profiles"] = profiles
    data["families"] = {**data["families"], **{e: family_map(e) for e in ENGINES}}
    data["default"] = "vllm-v1"
    data["modern_fit"] = {"params": params.values, "loss": fit_loss, "mape_pct": mape_pct, "points": n,
                          "iters": iters}
    CALIBRATION.write_text(json.dumps(data, indent=1) + "\n")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--iters", type=int, default=150, help="Nelder-Mead iterations (0: evaluate the start)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--from-start", action="store_true", help="start from fit.START, not the shipped parameters")
    ap.add_argument("--write", action="store_true", help="store the result in calibration.json")
    args = ap.parse_args()
    data = json.loads(CALIBRATION.read_text())
    points = read_points(shipped_points_path())
    t0 = time.perf_counter()
    params, results = fit(points, ModernParams(dict(START)) if args.from_start else shipped_params(), iters=args.iters, workers=args.workers)
    fit_loss = loss(results)
    mape_pct = mape_by(results, lambda r: "all")["all"]["mape_pct"]
    print(f"loss {fit_loss:.4f}, MAPE {mape_pct:.1f}% over {len(points)} points in {time.perf_counter() - t0:.0f} s")
    print(json.dumps(params.values, indent=1))
    if args.write:
        write(data, params, fit_loss, mape_pct, len(points), args.iters)
        print(f"wrote {CALIBRATION.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
