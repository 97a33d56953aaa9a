"""Trace statistics: request count, span, mean and peak arrival rates, token length percentiles."""

from __future__ import annotations

from array import array
from collections import Counter
from collections.abc import Iterable
from typing import NamedTuple

import msgspec
import numpy as np

from llmsim.errors import TraceError
from llmsim.memory.prefix_cache import chain_keys
from llmsim.workload.arrivals import NS_PER_S
from llmsim.workload.request import TraceRequest

PERCENTILES = (50, 90, 95, 99)


class LengthStats(msgspec.Struct, frozen=True, kw_only=True):
    """Summary of one token-length column (numpy's default, linear-interpolated percentiles); null when empty."""

    mean: float | None
    min: int | None
    p50: float | None
    p90: float | None
    p95: float | None
    p99: float | None
    max: int | None


class TraceStats(msgspec.Struct, frozen=True, kw_only=True):
    """What a trace looks like. Rates need arrival times; they are None for untimed traces.

    Mean rate = requests / span. Peak rates count requests in fixed one-second and one-minute
    bins that start at the first arrival.
    """

    requests: int
    timed: bool
    span_s: float | None
    mean_rate_per_s: float | None
    mean_rate_per_min: float | None
    peak_rate_per_s: int | None
    peak_rate_per_min: int | None
    input_tokens: LengthStats
    output_tokens: LengthStats
    invalid_lengths: int
    models: dict[str, int]
    ideal_prefix_hit_rate: float | None = None  # share of prompt tokens an infinite prefix cache holds; None: no hashes


def length_stats(values: np.ndarray) -> LengthStats:
    """Mean, min, max and percentiles of a token-count array (all None when it is empty: no fake zeros)."""
    if values.size == 0:
        return LengthStats(mean=None, min=None, p50=None, p90=None, p95=None, p99=None, max=None)
    p50, p90, p95, p99 = np.percentile(values, PERCENTILES).tolist()
    return LengthStats(
        mean=float(values.mean()),
        min=int(values.min()),
        p50=p50,
        p90=p90,
        p95=p95,
        p99=p99,
        max=int(values.max()),
    )


class TraceColumns(NamedTuple):
    """The three numbers per request that statistics need, plus model counts."""

    arrival_ns: np.ndarray
    input_tokens: np.ndarray
    output_tokens: np.ndarray
    models: Counter[str]
    reuse: IdealPrefixCache


class IdealPrefixCache:
    """An infinite prefix cache over a trace in arrival order: how much prompt reuse exists at all.

    A request reuses its leading prompt units (chained: a unit counts only after every unit
    before it) that an earlier request computed, at most its prompt minus one token, as the
    engine does; its own full prompt units are then cached forever.
    """

    __slots__ = ("seen", "prompt_tokens", "cached_tokens", "hashed")

    def __init__(self) -> None:
        self.seen: set[int] = set()
        self.prompt_tokens = 0
        self.cached_tokens = 0
        self.hashed = 0

    def add(self, request: TraceRequest) -> int:
        """Account one request; the prompt tokens it finds cached."""
        self.prompt_tokens += request.input_tokens
        unit = request.prefix_block_tokens
        if not request.prefix_hashes or unit <= 0:
            return 0
        self.hashed += 1
        keys = chain_keys(request.prefix_hashes[:request.input_tokens // unit])  # the prompt's full units
        hit = 0
        for key in keys[:max(0, request.input_tokens - 1) // unit]:
            if key not in self.seen:
                break
            hit += 1
        self.seen.update(keys)
        self.cached_tokens += hit * unit
        return hit * unit

    @property
    def hit_rate(self) -> float | None:
        """Cached share of all prompt tokens; None when no request carries prefix hashes."""
        return self.cached_tokens / self.prompt_tokens if self.hashed and self.prompt_tokens else None


def ideal_prefix_hit_rate(requests: Iterable[TraceRequest]) -> float | None:
    """The trace's prefix-cache hit rate with an infinite cache (None: no prefix hashes)."""
    cache = IdealPrefixCache()
    for request in requests:
        cache.add(request)
    return cache.hit_rate


def collect(arrivals: Iterable[tuple[int, TraceRequest]]) -> TraceColumns:
    """Columns of (arrival_ns, request) pairs as `with_arrivals` yields them, in one pass.

    Compact arrays grow as requests stream by; the requests themselves are not kept.
    """
    arrival_ns, inputs, outputs = array("q"), array("q"), array("q")
    models: Counter[str] = Counter()
    reuse = IdealPrefixCache()
    for t_ns, request in arrivals:
        reuse.add(request)
        arrival_ns.append(t_ns)
        try:
            inputs.append(request.input_tokens)
            outputs.append(request.output_tokens)
        except OverflowError:
            field = "output_tokens" if len(inputs) > len(outputs) else "input_tokens"
            raise TraceError(f"token count {getattr(request, field)} is beyond any integer llmsim counts",
                             line=request.line, field=field, expected="an integer below 2**63") from None
        models[request.model or "(none)"] += 1
    return TraceColumns(
        np.frombuffer(arrival_ns, dtype=np.int64),
        np.frombuffer(inputs, dtype=np.int64),
        np.frombuffer(outputs, dtype=np.int64),
        models,
        reuse,
    )


def compute_stats(columns: TraceColumns, *, timed: bool) -> TraceStats:
    """Statistics of collected columns; rates only when the arrivals are real (timed)."""
    inputs, outputs = columns.input_tokens, columns.output_tokens
    rates = _rates(columns.arrival_ns) if timed and inputs.size else _NO_RATES
    return TraceStats(
        requests=int(inputs.size),
        timed=timed,
        span_s=rates.span_s,
        mean_rate_per_s=rates.mean_per_s,
        mean_rate_per_min=None if rates.mean_per_s is None else rates.mean_per_s * 60.0,
        peak_rate_per_s=rates.peak_per_s,
        peak_rate_per_min=rates.peak_per_min,
        input_tokens=length_stats(inputs),
        output_tokens=length_stats(outputs),
        invalid_lengths=int(np.count_nonzero((inputs <= 0) | (outputs <= 0))),
        models=dict(columns.models.most_common()),
        ideal_prefix_hit_rate=columns.reuse.hit_rate,
    )


def arrival_offsets_s(arrival_ns: np.ndarray) -> np.ndarray:
    """Arrival times in seconds after the first arrival."""
    return (arrival_ns - arrival_ns[0]) / NS_PER_S


class _Rates(NamedTuple):
    span_s: float | None
    mean_per_s: float | None
    peak_per_s: int | None
    peak_per_min: int | None


_NO_RATES = _Rates(None, None, None, None)


def _rates(arrival_ns: np.ndarray) -> _Rates:
    """Span, mean and peak rates of sorted arrival times in ns."""
    offsets_s = arrival_offsets_s(arrival_ns)
    span_s = float(offsets_s[-1])
    return _Rates(
        span_s=span_s,
        mean_per_s=arrival_ns.size / span_s if span_s > 0 else None,
        peak_per_s=peak_count(offsets_s, 1.0),
        peak_per_min=peak_count(offsets_s, 60.0),
    )


def peak_count(offsets_s: np.ndarray, bin_s: float) -> int:
    """The largest number of arrivals in one bin of `bin_s` seconds, bins starting at 0."""
    return int(np.bincount(np.floor(offsets_s / bin_s).astype(np.int64)).max())


def rate_series(offsets_s: np.ndarray, bin_s: float) -> np.ndarray:
    """Arrivals per bin of `bin_s` seconds, for plotting rate over time."""
    return np.bincount(np.floor(offsets_s / bin_s).astype(np.int64))


def format_stats(stats: TraceStats, title: str) -> str:
    """A short human-readable report."""
    lines = [f"trace            {title}", f"requests         {stats.requests}"]
    if stats.timed and stats.span_s is not None:
        lines.append(f"span             {stats.span_s:.3f} s ({stats.span_s / 60:.1f} min)")
        if stats.mean_rate_per_s is not None:
            lines.append(
                f"mean rate        {stats.mean_rate_per_s:.3f} req/s   {stats.mean_rate_per_min:.1f} req/min"
            )
        lines.append(f"peak rate        {stats.peak_rate_per_s} req/s   {stats.peak_rate_per_min} req/min")
    else:
        lines.append("span             untimed trace (no arrival times; give --arrival-rate)")
    for name, lengths in (("input tokens", stats.input_tokens), ("output tokens", stats.output_tokens)):
        if lengths.mean is None:
            lines.append(f"{name:<17}none (no requests selected)")
            continue
        lines.append(
            f"{name:<17}mean {lengths.mean:.1f}  p50 {lengths.p50:g}  p90 {lengths.p90:g}"
            f"  p95 {lengths.p95:g}  p99 {lengths.p99:g}  min {lengths.min}  max {lengths.max}"
        )
    if stats.invalid_lengths:
        lines.append(f"invalid lengths  {stats.invalid_lengths} (token count <= 0; skipped when replayed)")
    models = ", ".join(f"{name} {count}" for name, count in list(stats.models.items())[:5])
    lines.append(f"models           {models}")
    if stats.ideal_prefix_hit_rate is not None:
        lines.append(f"prefix reuse     {100 * stats.ideal_prefix_hit_rate:.1f}% of prompt tokens with an infinite "
                     "prefix cache (the ceiling of any hit rate)")
    return "\n".join(lines)
