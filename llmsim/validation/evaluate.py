"""Predict every measured point: one simulation per distinct Scenario, then the row's statistic.

    from llmsim.validation import evaluate, read_points
    results = evaluate(read_points(path), calibration="default")   # or a CalibrationProfile

Which statistic a metric reads from stats.json (llmsim/output/stats.py):
- e2e_p50_s / e2e_mean_s: of a static batch, the last request's end-to-end time (the whole
  batch's latency, which is what benchmark_latency reports); otherwise latency.e2e_s p50 / mean.
- ttft_p50_ms: latency.ttft_s p50.  itl_mean_ms: latency.itl_s mean.
- throughput_req_s / throughput_tok_s: throughput.requests_per_s / output_tokens_per_s
  (completed requests or output tokens over the run, from the first arrival to the last finish).
- decode_tok_s_per_request: 1 / latency.tpot_s p50, i.e. (output - 1) / (e2e - ttft) of a request.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import msgspec

from llmsim.validation.names import model_class
from llmsim.validation.points import ServingPoint
from llmsim.validation.scenario import DURATION_S, Scenario, engine_family, scenario_for
from llmsim.validation.simulate import Calibration, calibration_label, simulate


SATURATED_QUEUE_FRACTION = 0.1  # queue p90 / arrival span above which an open-loop run is called saturated


class Result(msgspec.Struct, frozen=True, kw_only=True):
    """A measured point, its simulated counterpart and the error (NaN when nothing was predicted)."""

    point: ServingPoint
    scenario: Scenario
    model_class: str
    family: str
    predicted: float
    calibration: str = ""  # what the row ran under: a profile, `default` or an engine family name
    note: str = ""

    @property
    def error_pct(self) -> float:
        """Signed error of the prediction, % of the measurement (positive = llmsim too high)."""
        return (self.predicted - self.point.value) / self.point.value * 100.0

    @property
    def ok(self) -> bool:
        """Was there a prediction (all requests completed)?"""
        return math.isfinite(self.predicted)


def evaluate(points: Iterable[ServingPoint], calibration: Calibration = "auto", *,
             duration_s: float = DURATION_S) -> list[Result]:
    """Simulate each distinct scenario once and predict every point, in input order.

    `auto` runs each row under its engine's family (`engine_family`: vllm-v0 or vllm-v1).
    """
    runs: dict[Scenario, dict[str, Any]] = {}
    results = []
    for point in points:
        scenario = scenario_for(point, duration_s)
        row_calibration = engine_family(point) if calibration == "auto" else calibration
        if scenario not in runs:
            runs[scenario] = simulate(scenario, row_calibration)
        predicted, note = predict(point, scenario, runs[scenario])
        note = note or saturation_note(scenario, runs[scenario])
        results.append(Result(point=point, scenario=scenario, model_class=model_class(scenario.model),
                              family=metric_family(point, scenario), predicted=predicted, note=note,
                              calibration=calibration_label(row_calibration, scenario.hardware)))
    return results


def predict(point: ServingPoint, scenario: Scenario, stats: dict[str, Any]) -> tuple[float, str]:
    """The row's statistic from a run's stats, and a note (NaN with the reason when requests failed)."""
    requests = stats["requests"]
    if requests["failed"] or requests["completed"] == 0:
        return math.nan, f"{requests['failed']} of {requests['total']} requests failed {requests['failed_by_reason']}"
    latency, throughput = stats["latency"], stats["throughput"]
    metric = point.metric
    if metric in ("e2e_p50_s", "e2e_mean_s"):
        if scenario.workload == "static":
            return latency["e2e_s"]["max"], ""
        return latency["e2e_s"]["p50" if metric == "e2e_p50_s" else "mean"], ""
    if metric == "ttft_p50_ms":
        return latency["ttft_s"]["p50"] * 1e3, ""
    if metric == "itl_mean_ms":
        itl = latency["itl_s"]["mean"]
        return (itl * 1e3, "") if itl is not None else (math.nan, "no decode steps (1 output token)")
    if metric == "throughput_req_s":
        return throughput["requests_per_s"], ""
    if metric == "throughput_tok_s":
        return throughput["output_tokens_per_s"], ""
    tpot_s = latency["tpot_s"]["p50"]  # decode_tok_s_per_request
    return (1.0 / tpot_s, "") if tpot_s else (math.nan, "no decode steps (1 output token)")


def saturation_note(scenario: Scenario, stats: dict[str, Any]) -> str:
    """For an open-loop run whose queue kept growing (llmsim's replica below the offered rate): say so.

    Called saturated when the 90th-percentile queueing time exceeds a tenth of the arrival span;
    its TTFT and E2E then grow with the simulated duration (`--duration`).
    """
    if scenario.workload != "open":
        return ""
    queue_p90_s = stats["latency"]["queue_s"]["p90"]
    span_s = stats["arrivals"]["span_s"]
    if not span_s > 0 or queue_p90_s <= SATURATED_QUEUE_FRACTION * span_s:
        return ""
    return f"saturated: queue p90 {queue_p90_s:.0f} s, llmsim served {stats['throughput']['requests_per_s']:.2f} req/s"


def metric_family(point: ServingPoint, scenario: Scenario) -> str:
    """batch latency, throughput, TTFT p50, E2E p50 / mean, ITL / decode rate."""
    metric = point.metric
    if metric.startswith("e2e") and scenario.workload == "static":
        return "batch latency"
    if metric.startswith("throughput"):
        return "throughput"
    if metric in ("itl_mean_ms", "decode_tok_s_per_request"):
        return "ITL / decode rate"
    return {"ttft_p50_ms": "TTFT p50", "e2e_p50_s": "E2E p50", "e2e_mean_s": "E2E mean"}[metric]
