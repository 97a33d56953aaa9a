"""Predict measured points (operators, iterations, runs) with the cost model under a profile."""

from __future__ import annotations

import functools

import msgspec
import numpy as np

from llmsim.cost import operators as opmod
from llmsim.cost.calibration import CalibrationProfile
from llmsim.cost.cost_model import CostModel
from llmsim.cost.hardware import Hardware, get_hardware
from llmsim.cost.measurements import SARATHI_HW, Point
from llmsim.cost.model_spec import load_model_spec
from llmsim.cost.precision import precision_from_dtype


@functools.lru_cache(maxsize=64)
def point_hardware(hw_id: str) -> Hardware:
    """Hardware for a point; `<id>+nvlink` is that GPU joined by a 600 GB/s NVLink bridge."""
    if hw_id.endswith("+nvlink"):
        base = get_hardware(hw_id.removesuffix("+nvlink"))
        return msgspec.structs.replace(base, id=hw_id, interconnect="nvlink",
                                       interconnect_bandwidth_bytes_per_s=300e9, interconnect_latency_s=8e-6)
    return get_hardware(hw_id)


def cost_model(pt: Point, profile: CalibrationProfile) -> CostModel:
    """The CostModel a point runs on."""
    spec = load_model_spec(pt.model)
    return CostModel(spec, point_hardware(pt.hardware), tp=pt.tp,
                     precision=precision_from_dtype(pt.dtype), calibration=profile)


def _op(cm: CostModel, name: str, tokens: int) -> opmod.Op:
    for op in opmod.linear_ops(cm.shard, cm.precision, tokens, tokens):
        if op.name == name:
            return op
    raise KeyError(name)


def _run_throughput(cm: CostModel, pt: Point) -> float:
    """Static batch: one prefill of the whole batch, then output_len - 1 decode steps."""
    prefill_ns = cm.iteration_ns([pt.input_len] * pt.batch, [0] * pt.batch, [])
    ctx = np.full(pt.batch, pt.input_len, dtype=np.int64)
    decode_ns = int(cm.decode_run_ns(ctx, max(0, pt.output_len - 1)).sum())
    return pt.batch * pt.output_len / ((prefill_ns + decode_ns) / 1e9)


def predict(pt: Point, profile: CalibrationProfile) -> float:
    """The model's value for a point: seconds, or output tokens/s for throughput points."""
    cm = cost_model(pt, profile)
    if pt.kind == "op":
        return cm.op_time_s(_op(cm, pt.op, pt.tokens))
    if pt.kind == "prefill":
        return cm.iteration_ns([pt.input_len] * pt.batch, [0] * pt.batch, []) / 1e9
    if pt.kind == "decode":
        return cm.iteration_ns([], [], [pt.context_len] * pt.batch) / 1e9
    if pt.kind == "mixed":
        new = [pt.tokens] if pt.tokens else []
        return cm.iteration_ns(new, [0] * len(new), [pt.context_len] * pt.batch) / 1e9
    if pt.kind == "throughput":
        return _run_throughput(cm, pt)
    raise ValueError(f"unknown point kind {pt.kind!r}")


class OpBatch:
    """Vectorised operator-point predictions: FLOPs, bytes and peaks precomputed once."""

    def __init__(self, points: list[Point]) -> None:
        base = CalibrationProfile(name="none")
        rows, names = [], []
        for pt in points:
            cm = cost_model(pt, base)
            op = _op(cm, pt.op, pt.tokens)
            peak = cm.peak_flops if op.kind == "linear" else cm.hw.peak_fp16_flops
            rows.append((op.flops, op.bytes, op.rows, peak, cm.hw.hbm_bandwidth_bytes_per_s))
            names.append(op.name)
        self.flops, self.bytes, self.rows, self.peak, self.bw = np.array(rows, dtype=np.float64).reshape(-1, 5).T
        self.names = np.array(names)
        self._masks = {name: self.names == name for name in set(names)}

    def _padded_flops(self, tile: int) -> np.ndarray:
        if tile <= 1:
            return self.flops
        rows = np.where(self.rows > 0, self.rows, 1.0)
        factor = np.where(self.rows > 0, np.ceil(rows / tile) * tile / rows, 1.0)
        return self.flops * factor

    def predict(self, profile: CalibrationProfile) -> np.ndarray:
        """Seconds per operator under `profile` (same formula as CostModel.op_time_s)."""
        n = len(self.flops)
        ce = np.full(n, profile.compute_efficiency)
        me = np.full(n, profile.memory_efficiency)
        fixed = np.full(n, profile.kernel_overhead_s)
        for name, over in profile.operators.items():
            mask = self._masks.get(name)
            if mask is not None:
                ce[mask], me[mask], fixed[mask] = over.compute_efficiency, over.memory_efficiency, over.kernel_overhead_s
        compute = self._padded_flops(profile.token_tile) / (self.peak * ce)
        return np.maximum(compute, self.bytes / (self.bw * me)) + fixed


def predict_all(points: list[Point], profile: CalibrationProfile) -> np.ndarray:
    """Predictions for many points (operator points vectorised)."""
    if points and all(pt.kind == "op" for pt in points):
        return OpBatch(points).predict(profile)
    return np.array([predict(pt, profile) for pt in points], dtype=np.float64)
