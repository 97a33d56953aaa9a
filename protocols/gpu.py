"""The GPU conversation: iteration timers, load reports to the router, statistics at the end."""

from __future__ import annotations

from typing import Union

from protocols.base import Message


class IterationDone(Message, frozen=True, kw_only=True):
    """GPU -> itself: the current run of iterations ends now (stale if generation moved on)."""

    generation: int


class ScheduleNow(Message, frozen=True, kw_only=True):
    """GPU -> itself, in the last phase of an instant: decide the next batch now."""


class ReportTick(Message, frozen=True, kw_only=True):
    """GPU -> itself: the load-report interval has passed; report the latest load if it changed."""


class LoadReport(Message, frozen=True, kw_only=True):
    """GPU -> Router: the replica's load, the only view of it the router gets."""

    replica: str
    model: str
    outstanding: int
    running: int
    waiting: int
    kv_used_blocks: int
    kv_total_blocks: int
    block_size: int
    committed_tokens: int = 0  # prompt + output tokens of every outstanding request


class CollectStats(Message, frozen=True, kw_only=True):
    """GlobalEngine -> GPU: report your counters (sent once when the run ends)."""


class GpuStats(Message, frozen=True, kw_only=True):
    """GPU -> GlobalEngine: per-replica counters and the inter-token-latency histogram."""

    replica: str
    node: int
    gpu_type: str
    model: str
    tp: int
    busy_ns: int
    iterations: int
    prefill_tokens: int
    decode_tokens: int
    batch_size_sum: int
    preemptions: int
    kv_peak_blocks: int
    kv_total_blocks: int
    kv_used_blocks_at_end: int
    busy_until_ns: int
    itl_counts: tuple[int, ...]
    itl_sum_ns: int
    itl_max_ns: int
    kv_block_imbalance: int = 0  # used blocks not held by any sequence (an end-of-run invariant: 0)
    kv_cached_blocks_at_end: int = 0  # prefix-cache blocks nobody holds, kept for later hits
    prompt_tokens: int = 0  # prompt tokens of first admissions
    cached_prompt_tokens: int = 0  # of them, found in the prefix cache
    host_loaded_blocks: int = 0  # prefix-cache blocks brought back from host memory
    role: str = "both"  # prefill, decode or both (disaggregation)
    max_num_seqs: int = 0  # the replica's batch limits (given, or its engine's default for the GPU)
    max_num_batched_tokens: int = 0
    chunked_prefill: bool = True
    precision: str = ""  # llmsim.cost.precision.precision_text of the replica's deployment


GpuMessage = Union[IterationDone, ScheduleNow, ReportTick, LoadReport, CollectStats, GpuStats]
