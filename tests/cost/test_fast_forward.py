"""decode_run_ns must equal stepping iteration_ns one iteration at a time, bit for bit."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from llmsim.cost import CostModel, get_hardware, load_model_spec
from llmsim.cost.precision import DTYPES

_MODELS = {}


def _model(name: str, hw: str, tp: int, dtype: str, calibration: str) -> CostModel:
    key = (name, hw, tp, dtype, calibration)
    if key not in _MODELS:
        _MODELS[key] = CostModel(load_model_spec(name), get_hardware(hw), tp=tp, precision=DTYPES[dtype],
                                 calibration=None if calibration == "none" else calibration)
    return _MODELS[key]


@settings(max_examples=40, deadline=None)
@given(
    ctx=st.lists(st.integers(min_value=0, max_value=100_000), min_size=1, max_size=64),
    k=st.integers(min_value=1, max_value=300),
    name=st.sampled_from(["llama-2-7b-hf", "mixtral-8x7b-v0.1", "qwen3-30b-a3b"]),
    hw=st.sampled_from(["nvidia_A100", "nvidia_H100", "nvidia_L4"]),
    tp=st.sampled_from([1, 2, 4]),
    dtype=st.sampled_from(["fp16", "fp8", "int4"]),
    calibration=st.sampled_from(["default", "none", "trtllm-h100"]),
)
def test_decode_run_equals_step_mode(ctx: list[int], k: int, name: str, hw: str, tp: int, dtype: str,
                                     calibration: str) -> None:
    """Element j of decode_run_ns equals iteration_ns([], [], ctx + j) exactly, all positive."""
    cm = _model(name, hw, tp, dtype, calibration)
    arr = np.array(ctx, dtype=np.int64)
    run = cm.decode_run_ns(arr, k)
    assert run.dtype == np.int64 and run.shape == (k,)
    for j in (0, k // 2, k - 1):
        assert int(run[j]) == cm.iteration_ns([], [], [c + j for c in ctx])
    assert (run > 0).all()
    assert (np.diff(run) >= 0).all()  # longer contexts never get cheaper


def test_iteration_accepts_numpy_contexts() -> None:
    """iteration_ns takes numpy arrays as well as lists."""
    cm = _model("llama-2-7b-hf", "nvidia_A100", 1, "fp16", "default")
    ctx = np.array([10, 20], dtype=np.int64)
    assert cm.iteration_ns(np.array([], dtype=np.int64), np.array([], dtype=np.int64), ctx) == cm.iteration_ns(
        [], [], [10, 20])
    assert cm.iteration_ns(np.array([64]), np.array([0]), ctx) > 0


@settings(max_examples=60, deadline=None)
@given(
    ctx=st.lists(st.integers(min_value=0, max_value=200_000), min_size=1, max_size=300),
    k=st.integers(min_value=1, max_value=40),
    name=st.sampled_from(["llama-3.1-8b-instruct", "mixtral-8x7b-v0.1"]),
    hw=st.sampled_from(["nvidia_A100_80G_SXM", "nvidia_H100"]),
    tp=st.sampled_from([1, 2]),
    calibration=st.sampled_from(["default", "none"]),
)
def test_plain_python_run_equals_numpy_run(ctx: list[int], k: int, name: str, hw: str, tp: int,
                                           calibration: str) -> None:
    """decode_run_list (plain Python for short runs, numpy beyond) equals decode_run_ns exactly."""
    cm = _model(name, hw, tp, "fp16", calibration)
    assert cm.decode_run_list(ctx, k) == cm.decode_run_ns(np.array(ctx, dtype=np.int64), k).tolist()
