"""Fit calibration profiles to measured points by minimising mean absolute percentage error."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import msgspec
import numpy as np

from llmsim.cost.calibration import CalibrationProfile

# Bounds of each fittable profile field (efficiencies are fractions of peak; overheads in seconds).
BOUNDS: dict[str, tuple[float, float]] = {
    "compute_efficiency": (0.05, 1.0),
    "memory_efficiency": (0.05, 1.0),
    "attention_efficiency": (0.05, 1.0),
    "allreduce_efficiency": (0.02, 1.0),
    "kernel_overhead_s": (0.0, 100e-6),
    "allreduce_latency_s": (0.0, 200e-6),
    "iteration_overhead_s": (0.0, 100e-3),
    "per_seq_overhead_s": (0.0, 2e-3),
    "per_layer_overhead_s": (0.0, 1e-3),
}


def mape_pct(predicted: np.ndarray, measured: np.ndarray) -> float:
    """Mean absolute percentage error, in percent."""
    return float(np.mean(np.abs(predicted / measured - 1.0)) * 100.0)


def nelder_mead(f: Callable[[np.ndarray], float], x0: np.ndarray, iters: int = 300) -> np.ndarray:
    """Minimise f on the unit box from x0 with the Nelder-Mead simplex (values clipped to [0, 1])."""
    n = len(x0)
    x0 = np.clip(x0, 0, 1)
    # Each first vertex steps 0.15 into the box: a start near its upper bound would otherwise step onto
    # the bound (clipped to x0 itself) and that parameter could only move later, by reflection.
    steps = np.where(x0 <= 0.85, 0.15, -0.15)
    simplex = [x0] + [np.clip(x0 + steps[i] * np.eye(n)[i], 0, 1) for i in range(n)]
    values = [f(x) for x in simplex]
    for _ in range(iters):
        order = np.argsort(values)
        simplex, values = [simplex[i] for i in order], [values[i] for i in order]
        centroid = np.mean(simplex[:-1], axis=0)
        trial = np.clip(centroid + (centroid - simplex[-1]), 0, 1)
        ft = f(trial)
        if ft < values[0]:
            expanded = np.clip(centroid + 2.0 * (centroid - simplex[-1]), 0, 1)
            fe = f(expanded)
            simplex[-1], values[-1] = (expanded, fe) if fe < ft else (trial, ft)
        elif ft < values[-2]:
            simplex[-1], values[-1] = trial, ft
        else:
            shrunk = np.clip(centroid + 0.5 * (simplex[-1] - centroid), 0, 1)
            fs = f(shrunk)
            if fs < values[-1]:
                simplex[-1], values[-1] = shrunk, fs
            else:
                simplex = [simplex[0] + 0.5 * (x - simplex[0]) for x in simplex]
                values = [values[0]] + [f(x) for x in simplex[1:]]
    return simplex[int(np.argmin(values))]


def _to_unit(profile: CalibrationProfile, fields: Sequence[str]) -> np.ndarray:
    out = []
    for name in fields:
        lo, hi = BOUNDS[name]
        value = getattr(profile, name)
        out.append(((lo + hi) / 2 if value is None else value - lo) / (hi - lo))
    return np.clip(np.array(out), 0, 1)


def _from_unit(base: CalibrationProfile, fields: Sequence[str], x: np.ndarray) -> CalibrationProfile:
    values = {name: BOUNDS[name][0] + float(u) * (BOUNDS[name][1] - BOUNDS[name][0]) for name, u in zip(fields, x)}
    return msgspec.structs.replace(base, **values)


def fit_profile(
    base: CalibrationProfile,
    fields: Sequence[str],
    predict: Callable[[CalibrationProfile], np.ndarray],
    measured: np.ndarray,
    iters: int = 300,
    restarts: int = 2,
) -> CalibrationProfile:
    """The profile (base with `fields` fitted) minimising MAPE of predict(profile) against measured."""

    def objective(x: np.ndarray) -> float:
        return mape_pct(predict(_from_unit(base, fields, x)), measured)

    x = _to_unit(base, fields)
    for _ in range(restarts):
        x = nelder_mead(objective, x, iters)
    return _from_unit(base, fields, x)
