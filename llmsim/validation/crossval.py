"""Leave-one-group-out errors: refit the modern families without a source (or a GPU), predict it.

A fit that only memorised its points shows here: each group is predicted by parameters that never
saw it. Each fold starts from the textbook values (`fit.START`, not the shipped fit, which saw
the held-out points) and runs a Nelder-Mead search of `iters` rounds: minutes per fold on two
cores (`llmsim validate --cross-validate` says so before it starts). The in-sample column is the
shipped fit's error on the same points.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor

import msgspec

from llmsim.validation.evaluate import Result
from llmsim.validation.fit import START, ModernParams, evaluate_params, fit, shipped_params
from llmsim.validation.names import hardware_id
from llmsim.validation.points import ServingPoint
from llmsim.validation.report import mape_by
from llmsim.validation.scenario import DURATION_S

MIN_FOLD_POINTS = 3  # a group is held out only when the others keep enough to fit
MIN_HELD_POINTS = 2  # a one-point group says little for minutes of refitting
GROUPINGS: dict[str, Callable[[ServingPoint], str]] = {
    "source": lambda p: p.source,
    "gpu": hardware_id,
}


class Fold(msgspec.Struct, kw_only=True):
    """One held-out group: its error when left out of the fit, and under the full fit."""

    grouping: str
    group: str
    points: int
    held_out_mape_pct: float
    in_sample_mape_pct: float


def _mape(results: Sequence[Result]) -> float:
    stats = mape_by(results, lambda r: "all").get("all")
    return float("nan") if stats is None else stats["mape_pct"]


def cross_validate(points: Sequence[ServingPoint], iters: int = 30, workers: int = 2,
                   duration_s: float = DURATION_S, progress: Callable[[str], None] | None = None) -> list[Fold]:
    """Every source and GPU with enough points left out in turn, refitted without it, and predicted."""
    full = shipped_params()
    folds = []
    for grouping, key in GROUPINGS.items():
        groups = sorted({key(p) for p in points})
        for group in groups:
            held = [p for p in points if key(p) == group]
            kept = [p for p in points if key(p) != group]
            if len(groups) < 2 or len(kept) < MIN_FOLD_POINTS or len(held) < MIN_HELD_POINTS:
                continue
            if progress:
                progress(f"fold: without {grouping} {group} ({len(held)} points held out)")
            params, _ = fit(kept, ModernParams(dict(START)), iters=iters, workers=workers)
            folds.append(Fold(grouping=grouping, group=group, points=len(held),
                              held_out_mape_pct=_mape(_predict(params, held, workers, duration_s)),
                              in_sample_mape_pct=_mape(_predict(full, held, workers, duration_s))))
    return folds


def _predict(params: ModernParams, points: Sequence[ServingPoint], workers: int, duration_s: float) -> list[Result]:
    with ProcessPoolExecutor(workers) as pool:
        return evaluate_params(params, points, pool, duration_s)


def fold_lines(folds: Sequence[Fold]) -> list[str]:
    """The table `llmsim validate --cross-validate` prints."""
    lines = [f"{'left out':<34} {'n':>3} {'held-out MAPE':>14} {'in-sample MAPE':>15}"]
    for f in folds:
        lines.append(f"{f.grouping + ' ' + f.group:<34} {f.points:>3} {f.held_out_mape_pct:>13.1f}% "
                     f"{f.in_sample_mape_pct:>14.1f}%")
    for grouping in GROUPINGS:
        chosen = [f for f in folds if f.grouping == grouping]
        if chosen:
            n = sum(f.points for f in chosen)
            mean = sum(f.held_out_mape_pct * f.points for f in chosen) / n
            lines.append(f"leave-one-{grouping}-out MAPE {mean:.1f}% over {n} points")
    return lines
