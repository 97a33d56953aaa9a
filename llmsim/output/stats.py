"""Collects per-request metrics from the event stream and summarises them as stats.json."""

from __future__ import annotations

from array import array
from collections import Counter
from typing import Any

import numpy as np

from llmsim.kernel.clock import NS_PER_S
from llmsim.output.events import (
    ModelLoadFinished, ModelLoadStarted, RequestArrived, RequestCompleted, RequestFailed, RequestPreempted, RequestRouted,
    RequestSkipped, TransferFinished, TransferStarted,
)
from llmsim.output.disagg_stats import disaggregation_section
from llmsim.output.histogram import LogHistogram
from llmsim.output.sink import TypedSink
from protocols.gpu import GpuStats


EMPTY_SUMMARY: dict[str, float | None] = {"mean": None, "p50": None, "p90": None, "p99": None, "max": None}


def summarise(values_s: np.ndarray) -> dict[str, float | int | None]:
    """count, mean, p50, p90, p99 and max of a sample; with no sample, count 0 and null figures (not a perfect 0)."""
    if len(values_s) == 0:
        return {"count": 0, **EMPTY_SUMMARY}
    p50, p90, p99 = np.percentile(values_s, [50, 90, 99])
    return {"count": len(values_s), "mean": float(values_s.mean()), "p50": float(p50), "p90": float(p90),
            "p99": float(p99), "max": float(values_s.max())}


def summarise_hist(hist: LogHistogram) -> dict[str, float | int | None]:
    """The same summary from a log histogram (<= 1% relative error)."""
    if not hist.total:
        return {"count": 0, **EMPTY_SUMMARY}
    s = 1 / NS_PER_S
    return {"count": int(hist.total), "mean": hist.sum_ns / hist.total * s, "p50": hist.percentile_ns(50) * s,
            "p90": hist.percentile_ns(90) * s, "p99": hist.percentile_ns(99) * s, "max": hist.max_ns * s}


class StatsCollector(TypedSink):
    """A sink that keeps compact per-request arrays (no per-request objects survive)."""

    def __init__(self, slo_ttft_s: float | None = None, slo_tpot_s: float | None = None) -> None:
        self.arrival = array("q")
        self.scheduled = array("q")
        self.first = array("q")
        self.finish = array("q")
        self.out_tokens = array("q")
        self.in_tokens = array("q")
        self.failed_by_reason: Counter[str] = Counter()
        self.skipped_by_reason: Counter[str] = Counter()
        self.preempted_requests = 0
        self.preemptions = 0
        self.loads: list[dict[str, Any]] = []
        self.gpus: list[GpuStats] = []
        self.itl = LogHistogram()
        self.last_finish_ns = 0
        self.slo = (slo_ttft_s, slo_tpot_s)
        self.request_slo: dict[str, tuple[float | None, float | None]] = {}  # a trace's own targets, by id
        self.own_slo: dict[int, tuple[float | None, float | None]] = {}  # ... by completion index
        self.own_slo_requests = 0
        self.handlers = {
            RequestCompleted: self._completed, RequestFailed: self._failed, RequestSkipped: self._skipped,
            RequestPreempted: self._preempted, ModelLoadStarted: self._load, ModelLoadFinished: self._loaded,
            RequestArrived: self._arrived, RequestRouted: self._routed,
            TransferStarted: self._transfer_started, TransferFinished: self._transfer_finished,
        }
        self.transfer_ns = array("q")  # disaggregation: each KV transfer that arrived
        self.handoff_wait_ns = array("q")  # ... and how long its request waited for decode KV blocks before it
        self.transfer_bytes = 0
        self.retransfers = 0
        self.unrouted: dict[str, int] = {}  # request id -> arrival, until its first routing
        self.requests_waited = 0  # requests routed later than they arrived (no replica of their model was ready)
        self.first_arrival_ns: int | None = None
        self.last_arrival_ns = 0

    def _completed(self, e: RequestCompleted) -> None:
        self.arrival.append(e.arrival_ns)
        self.scheduled.append(e.scheduled_ns)
        self.first.append(e.first_token_ns)
        self.finish.append(e.t_ns)
        self.out_tokens.append(e.output_tokens)
        self.in_tokens.append(e.input_tokens)
        if e.preemptions:
            self.preempted_requests += 1
        self.last_finish_ns = max(self.last_finish_ns, e.t_ns)
        if self.request_slo:
            own = self.request_slo.pop(e.request_id, None)
            if own is not None:
                self.own_slo[len(self.arrival) - 1] = own

    def add_request_slo(self, request_id: str, ttft_s: float | None, tpot_s: float | None) -> None:
        """A request with its own SLO targets (the trace's `slo` field), which replace --slo for it."""
        self.request_slo[request_id] = (ttft_s, tpot_s)
        self.own_slo_requests += 1

    def _transfer_started(self, e: TransferStarted) -> None:
        self.transfer_bytes += e.kv_bytes
        self.retransfers += e.attempt > 0

    def _transfer_finished(self, e: TransferFinished) -> None:
        self.transfer_ns.append(e.transfer_ns)
        self.handoff_wait_ns.append(e.t_ns - e.transfer_ns - e.first_token_ns)

    def _arrived(self, e: RequestArrived) -> None:
        self.unrouted[e.request_id] = e.t_ns
        if self.first_arrival_ns is None:
            self.first_arrival_ns = e.t_ns
        self.last_arrival_ns = e.t_ns

    def _routed(self, e: RequestRouted) -> None:
        arrived = self.unrouted.pop(e.request_id, None)
        if arrived is not None and e.t_ns > arrived:
            self.requests_waited += 1

    def _failed(self, e: RequestFailed) -> None:
        arrived = self.unrouted.pop(e.request_id, None)
        if arrived is not None and e.t_ns > arrived:
            self.requests_waited += 1  # it waited at the router until the run gave up on it
        self.failed_by_reason[e.reason] += 1
        self.last_finish_ns = max(self.last_finish_ns, e.t_ns)

    def _skipped(self, e: RequestSkipped) -> None:
        self.skipped_by_reason[e.reason] += 1

    def _preempted(self, e: RequestPreempted) -> None:
        self.preemptions += 1

    def _load(self, e: ModelLoadStarted) -> None:
        self.loads.append({"t_s": e.t_ns / NS_PER_S, "node": e.node, "model": e.model,
                           "replicas": e.replicas, "tp": e.tp, "load_s": e.load_s, "replaces": e.replaces})

    def _loaded(self, e: ModelLoadFinished) -> None:
        pass

    def add_gpu_stats(self, stats: GpuStats) -> None:
        """Merge one replica's end-of-run counters."""
        self.gpus.append(stats)
        self.itl.merge_counts(stats.itl_counts, stats.itl_sum_ns, stats.itl_max_ns)


def _latencies(c: StatsCollector) -> dict[str, np.ndarray]:
    arrival = np.frombuffer(c.arrival, dtype=np.int64).astype(np.float64) / NS_PER_S
    sched = np.frombuffer(c.scheduled, dtype=np.int64).astype(np.float64) / NS_PER_S
    first = np.frombuffer(c.first, dtype=np.int64).astype(np.float64) / NS_PER_S
    finish = np.frombuffer(c.finish, dtype=np.int64).astype(np.float64) / NS_PER_S
    out = np.frombuffer(c.out_tokens, dtype=np.int64)
    multi = out > 1
    tpot = (finish[multi] - first[multi]) / (out[multi] - 1)
    return {"ttft": first - arrival, "tpot": tpot, "e2e": finish - arrival, "queue": sched - arrival,
            "_tpot_all": np.where(multi, (finish - first) / np.maximum(out - 1, 1), 0.0)}


def _targets(c: StatsCollector, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Per completed request, its TTFT and TPOT targets (inf = none): --slo, or the request's own."""
    ttft_s, tpot_s = c.slo
    ttft = np.full(n, np.inf if ttft_s is None else ttft_s)
    tpot = np.full(n, np.inf if tpot_s is None else tpot_s)
    for index, (own_ttft, own_tpot) in c.own_slo.items():
        if own_ttft is not None:
            ttft[index] = own_ttft
        if own_tpot is not None:
            tpot[index] = own_tpot
    return ttft, tpot


def _slo(c: StatsCollector, lat: dict[str, np.ndarray], span_s: float) -> dict[str, Any]:
    ttft_s, tpot_s = c.slo
    ttft_target, tpot_target = _targets(c, len(lat["ttft"]))
    ok = (lat["ttft"] <= ttft_target) & (lat["_tpot_all"] <= tpot_target)
    n_total = len(ok) + sum(c.failed_by_reason.values())
    met = int(ok.sum())
    out: dict[str, Any] = {"ttft_s": ttft_s, "tpot_s": tpot_s, "met": met,
                           "attainment": met / n_total if n_total else None,
                           "goodput_requests_per_s": met / span_s if span_s > 0 else 0.0}
    if c.own_slo_requests:
        out["requests_with_own_targets"] = c.own_slo_requests
    return out


def _gpu_entry(g: GpuStats, span_ns: int) -> dict[str, Any]:
    return {"replica": g.replica, "gpu_type": g.gpu_type, "model": g.model, "tp": g.tp,
            "busy_fraction": g.busy_ns / span_ns if span_ns else 0.0, "iterations": g.iterations,
            "prefill_tokens": g.prefill_tokens, "decode_tokens": g.decode_tokens,
            "mean_batch_size": g.batch_size_sum / g.iterations if g.iterations else 0.0,
            "preemptions": g.preemptions, "kv_peak_use": g.kv_peak_blocks / g.kv_total_blocks if g.kv_total_blocks else 0.0,
            "kv_total_blocks": g.kv_total_blocks,
            "prefix_cache": _prefix_cache(g.prompt_tokens, g.cached_prompt_tokens, g.host_loaded_blocks),
            **({"role": g.role} if g.role != "both" else {})}


def _prefix_cache(prompt_tokens: int, cached_tokens: int, host_loaded_blocks: int) -> dict[str, Any]:
    """Prompt tokens at admission, those found in the prefix cache, their ratio (None with no prompts),
    and the cached blocks that came back from host memory."""
    return {"prompt_tokens": prompt_tokens, "cached_tokens": cached_tokens,
            "hit_rate": cached_tokens / prompt_tokens if prompt_tokens else None,
            "host_loaded_blocks": host_loaded_blocks}


def _nodes(c: StatsCollector, span_ns: int) -> dict[str, Any]:
    nodes: dict[str, Any] = {}
    for g in sorted(c.gpus, key=lambda g: (g.node, g.replica)):
        entry = nodes.setdefault(str(g.node), {"gpus": [], "model_loads": 0})
        entry["gpus"].append(_gpu_entry(g, span_ns))
    for load in c.loads:
        nodes.setdefault(str(load["node"]), {"gpus": [], "model_loads": 0})["model_loads"] += 1
    return nodes


def build_stats(c: StatsCollector, *, entered: int, read: int, simulated_ns: int, wall_s: float, events: int,
                complete: bool = True, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """The stats.json document (keys are a public interface: add, never rename)."""
    lat = _latencies(c)
    completed = len(c.arrival)
    failed = sum(c.failed_by_reason.values())
    span_s = simulated_ns / NS_PER_S
    out_tokens = int(np.frombuffer(c.out_tokens, dtype=np.int64).sum())
    stats: dict[str, Any] = {
        "complete": complete,
        "requests": {"total": entered, "completed": completed, "failed": failed,
                     "failed_by_reason": dict(sorted(c.failed_by_reason.items())),
                     "skipped_invalid": sum(c.skipped_by_reason.values()),
                     "skipped_by_reason": dict(sorted(c.skipped_by_reason.items())), "read": read,
                     "preempted": c.preempted_requests},
        "latency": {"ttft_s": summarise(lat["ttft"]), "tpot_s": summarise(lat["tpot"]),
                    "e2e_s": summarise(lat["e2e"]), "queue_s": summarise(lat["queue"]),
                    "itl_s": summarise_hist(c.itl)},
        "throughput": {"requests_per_s": completed / span_s if span_s > 0 else 0.0,
                       "output_tokens_per_s": out_tokens / span_s if span_s > 0 else 0.0,
                       "input_tokens_per_s": int(np.frombuffer(c.in_tokens, dtype=np.int64).sum()) / span_s if span_s > 0 else 0.0},
        "preemptions": {"total": c.preemptions, "requests_preempted": c.preempted_requests},
        "prefix_cache": _prefix_cache(sum(g.prompt_tokens for g in c.gpus), sum(g.cached_prompt_tokens for g in c.gpus),
                                      sum(g.host_loaded_blocks for g in c.gpus)),
        "slo": _slo(c, lat, span_s),
        "nodes": _nodes(c, simulated_ns),
        "arrivals": {"first_s": (c.first_arrival_ns or 0) / NS_PER_S, "last_s": c.last_arrival_ns / NS_PER_S,
                     "span_s": (c.last_arrival_ns - (c.first_arrival_ns or 0)) / NS_PER_S},
        "model_loads": c.loads,
        "reprovisioning": [{"t_s": x["t_s"], "node": x["node"], "from": x["replaces"], "to": x["model"],
                            "load_s": x["load_s"]} for x in c.loads if x["replaces"] is not None],
        "simulation": {"simulated_s": span_s, "wall_s": wall_s, "events": events},
    }
    stats["throughput"]["goodput_requests_per_s"] = stats["slo"]["goodput_requests_per_s"]
    disagg = disaggregation_section(c.gpus, np.frombuffer(c.transfer_ns, dtype=np.int64),
                                    np.frombuffer(c.handoff_wait_ns, dtype=np.int64), c.transfer_bytes,
                                    c.retransfers, simulated_ns, summarise)
    if disagg is not None:
        stats["disaggregation"] = disagg
    if extra:
        stats.update(extra)
    return stats
