"""The modern-family fit: profiles from parameters, the shipped families, the loss, and one evaluation."""

from __future__ import annotations

import math

import msgspec
import pytest

from llmsim.cost.calibration import get_profile
from llmsim.validation import read_points
from llmsim.validation.crossval import Fold, fold_lines
from llmsim.validation.fit import (
    BOUNDS, ENGINES, LOG_ERROR_CAP, PUBLISHED, START, evaluate_params, family_map, fit, generation_of, loss,
    shipped_params,
)


def test_start_and_shipped_parameters_lie_within_the_physical_bounds() -> None:
    """A fit never leaves the bounds: the starting point and the shipped result are inside them."""
    for params in (START, shipped_params().values):
        for name, (low, high) in BOUNDS.items():
            assert low <= params[name] <= high, name


def test_shipped_families_are_the_fitted_profiles() -> None:
    """calibration.json's vllm-v1/vllm-v0 profiles are what the stored parameters give (the file is not hand-edited)."""
    params = shipped_params()
    for engine in ENGINES:
        for hw in ("nvidia_A100_80G_SXM", "nvidia_H100_SXM", "nvidia_L40S", "amd_MI300X"):
            shipped = get_profile(engine, hw)
            built = params.for_gpu(engine, hw)
            assert shipped.name == built.name == f"{engine}-{generation_of(hw)}"
            assert f"{engine}-{generation_of(hw)}" in family_map(engine).values()
            assert shipped.memory_efficiency == pytest.approx(built.memory_efficiency)
            assert shipped.iteration_overhead_s == pytest.approx(built.iteration_overhead_s)
    assert generation_of("nvidia_H200") == "hopper" and generation_of("nvidia_B200") == "generic"


def test_mi300x_takes_published_fractions_and_hoppers_host_overheads() -> None:
    """MI300X: GEMM and HBM fractions from published microbenchmarks (not fitted, far below its datasheet's
    lead over an H100), engine overheads of the Hopper fit; a run on it still says it is unvalidated."""
    params = shipped_params()
    mi, hop = params.for_gpu("vllm-v1", "amd_MI300X"), params.profile("vllm-v1", "hopper")
    assert generation_of("amd_MI300X") == "cdna3"
    assert (mi.compute_efficiency, mi.memory_efficiency) == (PUBLISHED["cdna3"][1], PUBLISHED["cdna3"][2])
    assert mi.compute_efficiency < hop.compute_efficiency and mi.iteration_overhead_s == hop.iteration_overhead_s
    assert "published microbenchmarks" in get_profile("vllm-v1", "amd_MI300X").how


def test_generic_profile_is_the_mean_of_the_generations() -> None:
    """An unmeasured GPU gets the mean efficiencies of Ampere and Hopper."""
    params = shipped_params()
    amp, hop, gen = (params.profile("vllm-v1", g) for g in ("ampere", "hopper", "generic"))
    assert gen.memory_efficiency == pytest.approx((amp.memory_efficiency + hop.memory_efficiency) / 2)
    assert params.profile("vllm-v0", "hopper").iteration_overhead_s > hop.iteration_overhead_s  # V0's host work


def test_loss_is_capped_and_symmetric(small_points: str) -> None:
    """2x too slow and 2x too fast cost the same; a failed prediction costs the cap."""
    from concurrent.futures import ProcessPoolExecutor

    points = read_points(small_points)[:1]
    with ProcessPoolExecutor(1) as pool:
        (result,) = evaluate_params(shipped_params(), points, pool, duration_s=4)
    assert result.ok and result.calibration.startswith("vllm-v")
    too_slow = msgspec.structs.replace(result, predicted=2 * result.point.value)
    too_fast = msgspec.structs.replace(result, predicted=0.5 * result.point.value)
    failed = msgspec.structs.replace(result, predicted=math.nan)
    assert loss([too_slow]) == pytest.approx(loss([too_fast])) == pytest.approx(math.log(2))
    assert loss([failed]) == LOG_ERROR_CAP


def test_fit_without_rounds_returns_its_start(small_points: str) -> None:
    """iters=0 evaluates the starting parameters (how fit_modern.py re-scores a stored fit)."""
    points = read_points(small_points)[:1]
    params, results = fit(points, shipped_params(), iters=0, workers=1, duration_s=4)
    assert params == shipped_params() and len(results) == 1


def test_fold_table() -> None:
    """The cross-validation table: a row per fold, then the point-weighted leave-one-out MAPE."""
    lines = fold_lines([Fold(grouping="source", group="A", points=1, held_out_mape_pct=10.0, in_sample_mape_pct=5.0),
                        Fold(grouping="source", group="B", points=3, held_out_mape_pct=30.0, in_sample_mape_pct=6.0)])
    assert len(lines) == 4 and lines[-1] == "leave-one-source-out MAPE 25.0% over 4 points"
