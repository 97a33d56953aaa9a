"""Compare cost-model predictions with measured GPU timings and print the error per source."""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

from llmsim.cost.calibrate import HW_TAGS
from llmsim.cost.calibration import CalibrationProfile, get_profile
from llmsim.cost.fitting import mape_pct
from llmsim.cost.measurements import Point, all_points
from llmsim.cost.prediction import predict_all

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
COLUMNS = ("fitted", "default", "none")


def fitted_name(pt: Point) -> str:
    """The profile fitted on this point's source and GPU."""
    if pt.source == "sarathi":
        return "sarathi-a100"
    return f"{pt.source}-{HW_TAGS[pt.hardware]}"


def _profiles(pt: Point) -> dict[str, CalibrationProfile]:
    return {"fitted": get_profile(fitted_name(pt), pt.hardware.split("+")[0]),
            "default": get_profile("default", pt.hardware.split("+")[0]),
            "none": get_profile("none", pt.hardware)}


def predictions(points: list[Point]) -> dict[str, np.ndarray]:
    """Per column, predictions of every point (grouped so operator points vectorise)."""
    groups: dict[tuple[str, str], list[int]] = defaultdict(list)
    for i, pt in enumerate(points):
        groups[(fitted_name(pt), pt.hardware)].append(i)
    out = {col: np.zeros(len(points)) for col in COLUMNS}
    for idx in groups.values():
        chosen = [points[i] for i in idx]
        for col, prof in _profiles(chosen[0]).items():
            out[col][idx] = predict_all(chosen, prof)
    return out


def _unit(pt: Point) -> str:
    return "tok/s" if pt.kind == "throughput" else "ms"


def _scaled(pt: Point, value: float) -> float:
    return value if pt.kind == "throughput" else value * 1e3


def print_points(points: list[Point], pred: dict[str, np.ndarray], show_ops: bool) -> None:
    """One line per point (Vidur operator rows only with --all-points)."""
    print(f"{'source':9} {'split':5} {'point':58} {'unit':5} {'measured':>10} "
          + " ".join(f"{c:>10} {'err%':>6}" for c in COLUMNS))
    for i, pt in enumerate(points):
        if pt.kind == "op" and not show_ops and not pt.label.startswith("csv"):
            continue
        cells = " ".join(f"{_scaled(pt, pred[c][i]):10.3f} {100 * (pred[c][i] / pt.value - 1):+6.1f}" for c in COLUMNS)
        split = "held" if pt.holdout else "fit"
        print(f"{pt.source:9} {split:5} {pt.label[:58]:58} {_unit(pt):5} {_scaled(pt, pt.value):10.3f} {cells}")


def print_mape(points: list[Point], pred: dict[str, np.ndarray]) -> None:
    """MAPE per source on held-out points (the headline) and on all points."""
    measured = np.array([pt.value for pt in points])
    print("\nMAPE % per source (held-out = never used for fitting; fitted = the profile fitted on that source)")
    print(f"{'source':10} {'points':>7} " + " ".join(f"{c + ' held':>13} {c + ' all':>12}" for c in COLUMNS))
    for source in ("vidur", "splitwise", "sarathi", "trtllm"):
        sel = np.array([pt.source == source for pt in points])
        held = sel & np.array([pt.holdout for pt in points])
        cells = " ".join(f"{mape_pct(pred[c][held], measured[held]):13.1f} {mape_pct(pred[c][sel], measured[sel]):12.1f}"
                         for c in COLUMNS)
        print(f"{source:10} {int(sel.sum()):7d} {cells}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="shared data folder (profiles/, measured/)")
    parser.add_argument("--all-points", action="store_true", help="also print every Vidur operator row")
    args = parser.parse_args(argv)
    points = all_points(args.data)
    pred = predictions(points)
    print_points(points, pred, args.all_points)
    print_mape(points, pred)
    return 0


if __name__ == "__main__":
    sys.exit(main())
