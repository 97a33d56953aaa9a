"""Calibration fitting: vectorised predictions agree with CostModel and the fit recovers known values."""

from __future__ import annotations

import numpy as np
import pytest

from llmsim.cost.calibration import CalibrationProfile, OpCalibration
from llmsim.cost.fitting import fit_profile, mape_pct, nelder_mead
from llmsim.cost.measurements import Point
from llmsim.cost.prediction import OpBatch, cost_model, predict, predict_all


def _points() -> list[Point]:
    return [Point(source="vidur", label=f"p{i}", hardware="nvidia_A100_80G_SXM", model="llama-2-7b-hf", tp=tp,
                  kind="op", op=op, tokens=tokens, value=1.0)
            for i, (op, tokens, tp) in enumerate(
                (op, t, tp) for op in ("qkv_proj", "mlp_up_proj", "input_layernorm")
                for t in (1, 16, 200, 1024, 4096) for tp in (1, 4))]


def test_op_batch_matches_cost_model() -> None:
    """OpBatch.predict uses the same formula as CostModel.op_time_s (per-op overrides, token tile)."""
    prof = CalibrationProfile(name="t", compute_efficiency=0.6, memory_efficiency=0.7, kernel_overhead_s=3e-6,
                              token_tile=128, operators={"mlp_up_proj": OpCalibration(
                                  compute_efficiency=0.8, memory_efficiency=0.9, kernel_overhead_s=1e-6)})
    pts = _points()
    batch = OpBatch(pts).predict(prof)
    single = [predict(pt, prof) for pt in pts]
    assert batch == pytest.approx(single, rel=1e-12)
    assert cost_model(pts[0], prof).profile is prof


def test_fit_recovers_known_efficiencies() -> None:
    """Fitting synthetic times made with known efficiencies recovers them within a few percent."""
    truth = CalibrationProfile(name="truth", compute_efficiency=0.62, memory_efficiency=0.81, kernel_overhead_s=4e-6)
    pts = _points()
    measured = predict_all(pts, truth)
    start = CalibrationProfile(name="start", compute_efficiency=0.9, memory_efficiency=0.5, kernel_overhead_s=1e-5)
    batch = OpBatch(pts)
    fitted = fit_profile(start, ("compute_efficiency", "memory_efficiency", "kernel_overhead_s"), batch.predict,
                         measured)
    assert mape_pct(batch.predict(fitted), measured) < 1.0
    assert fitted.compute_efficiency == pytest.approx(0.62, rel=0.05)
    assert fitted.memory_efficiency == pytest.approx(0.81, rel=0.05)


def test_nelder_mead_minimises_a_bowl() -> None:
    """The simplex search finds the minimum of a quadratic inside the unit box."""
    x = nelder_mead(lambda v: float(np.sum((v - np.array([0.3, 0.7])) ** 2)), np.array([0.9, 0.1]), 200)
    assert x == pytest.approx([0.3, 0.7], abs=1e-3)
