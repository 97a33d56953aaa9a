"""Arrival times for trace requests: the trace's own (rebased, scaled, windowed) or Poisson/Gamma/constant."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Literal, get_args

import msgspec
import numpy as np

from llmsim.errors import TraceError, UsageError
from llmsim.workload.request import TraceRequest

NS_PER_S = 1_000_000_000
_GAP_BATCH = 4096

ArrivalProcess = Literal["poisson", "gamma", "constant"]
ARRIVAL_PROCESSES: tuple[str, ...] = get_args(ArrivalProcess)


class ArrivalOptions(msgspec.Struct, frozen=True, kw_only=True):
    """How requests are given arrival times; the defaults replay the trace's own timestamps."""

    rate: float | None = None
    burstiness: float | None = None
    # None: Poisson for `rate` alone, Gamma for `rate` + `burstiness`. "constant": a fixed gap 1/rate.
    process: ArrivalProcess | None = None
    time_scale: float = 1.0
    start_s: float | None = None
    duration_s: float | None = None
    limit: int | None = None
    model: str | None = None


# Virtual time is int64 nanoseconds (up to ~292 years); an arrival past 1e9 s (~31 years) after
# the first request is a unit mistake, and refusing it keeps every later time in range.
MAX_ARRIVAL_S = 1e9


def validate(opts: ArrivalOptions) -> None:
    """Raise UsageError for options that make no sense, before any request is read."""
    if opts.rate is not None and not opts.rate > 0:
        raise UsageError(f"arrival rate must be > 0, got {opts.rate}", field="--arrival-rate")
    if opts.burstiness is not None:
        if opts.rate is None:
            raise UsageError("--burstiness needs --arrival-rate", field="--burstiness")
        if not opts.burstiness > 0:
            raise UsageError(f"burstiness must be > 0, got {opts.burstiness}", field="--burstiness")
    _validate_process(opts)
    if not opts.time_scale > 0:
        raise UsageError(f"time scale must be > 0, got {opts.time_scale}", field="--time-scale")
    if opts.start_s is not None and opts.start_s < 0:
        raise UsageError(f"start must be >= 0, got {opts.start_s}", field="--start")
    if opts.duration_s is not None and not opts.duration_s > 0:
        raise UsageError(f"duration must be > 0, got {opts.duration_s}", field="--duration")
    if opts.limit is not None and opts.limit < 0:
        raise UsageError(f"limit must be >= 0, got {opts.limit}", field="--limit")


def _validate_process(opts: ArrivalOptions) -> None:
    """--arrival-process needs a rate; gamma needs --burstiness; the others refuse it."""
    if opts.process is None:
        return
    if opts.process not in ARRIVAL_PROCESSES:
        raise UsageError(f"unknown arrival process {opts.process!r}", field="--arrival-process",
                         expected="one of " + ", ".join(ARRIVAL_PROCESSES))
    if opts.rate is None:
        raise UsageError(f"--arrival-process {opts.process} needs --arrival-rate", field="--arrival-process")
    if opts.process == "gamma" and opts.burstiness is None:
        raise UsageError("--arrival-process gamma needs --burstiness", field="--arrival-process")
    if opts.process != "gamma" and opts.burstiness is not None:
        raise UsageError(f"--burstiness only applies to gamma arrivals, not {opts.process}", field="--burstiness")


def with_arrivals(
    requests: Iterable[TraceRequest],
    opts: ArrivalOptions,
    rng: np.random.Generator,
    *,
    source: str | None = None,
) -> Iterator[tuple[int, TraceRequest]]:
    """Yield (arrival_ns, request) in non-decreasing arrival order, streaming.

    The base timeline (seconds, first request at 0) is the trace's own timestamps rebased, or
    generated arrivals when `rate` is set (Poisson, Gamma or constant: `process`), or all zeros for an untimed trace. The window
    [start_s, start_s + duration_s) is cut on that timeline; the arrival is then
    (t - start_s) / time_scale. `limit` caps the number of requests yielded. `source` (the
    trace's path) is named in errors about timestamps. Invalid options raise UsageError here,
    at the call, before any request is read.
    """
    validate(opts)
    return _arrivals(requests, opts, rng, source)


def _arrivals(
    requests: Iterable[TraceRequest], opts: ArrivalOptions, rng: np.random.Generator, source: str | None
) -> Iterator[tuple[int, TraceRequest]]:
    """The generator behind `with_arrivals`, started once the options are known to be valid."""
    if opts.limit == 0:
        return
    timeline = _generated(requests, opts, rng) if opts.rate is not None else _own_times(requests, source)
    start_s = opts.start_s or 0.0
    end_s = None if opts.duration_s is None else start_s + opts.duration_s
    count = 0
    for t_s, request in timeline:
        if t_s < start_s:
            continue
        if end_s is not None and t_s >= end_s:
            return
        if opts.model is not None:
            request = msgspec.structs.replace(request, model=opts.model)
        arrival_s = (t_s - start_s) / opts.time_scale
        if not arrival_s <= MAX_ARRIVAL_S:  # also catches inf and nan
            raise TraceError(f"arrival {arrival_s:.3g} s after the start is beyond virtual time", file=source,
                             line=request.line, field="arrival",
                             expected=f"at most {MAX_ARRIVAL_S:g} s after the first request (check the time unit)")
        yield round(arrival_s * NS_PER_S), request
        count += 1
        if opts.limit is not None and count >= opts.limit:
            return


def _own_times(
    requests: Iterable[TraceRequest], source: str | None
) -> Iterator[tuple[float, TraceRequest]]:
    """The trace's timestamps rebased to the first; all zero when the trace is untimed."""
    iterator = iter(requests)
    first = next(iterator, None)
    if first is None:
        return
    yield 0.0, first
    if first.arrival_s is None:
        for request in iterator:
            yield 0.0, request
        return
    t0_s = previous_s = first.arrival_s
    for request in iterator:
        if request.arrival_s is None:
            raise TraceError(
                "missing arrival time in a timestamped trace",
                file=source,
                line=request.line,
                field="arrival",
                expected="a timestamp on every line, or none at all",
            )
        if request.arrival_s < previous_s:
            raise TraceError(
                f"arrival time goes backwards ({request.arrival_s - t0_s:.6f} s after the first,"
                f" {previous_s - request.arrival_s:.6f} s before the previous request)",
                file=source,
                line=request.line,
                field="arrival",
                expected="non-decreasing timestamps (sort the trace first)",
            )
        previous_s = request.arrival_s
        yield request.arrival_s - t0_s, request


def _generated(
    requests: Iterable[TraceRequest], opts: ArrivalOptions, rng: np.random.Generator
) -> Iterator[tuple[float, TraceRequest]]:
    """Poisson (or Gamma, with burstiness) arrivals at `rate`: first at 0, then random gaps.

    The constant process puts request i at exactly i / rate (computed, not summed, so no drift).
    """
    assert opts.rate is not None
    if opts.process == "constant":
        rate = opts.rate
        for index, request in enumerate(requests):
            yield index / rate, request
        return
    gaps = inter_arrival_gaps_s(opts.rate, opts.burstiness, rng)
    t_s = 0.0
    for index, request in enumerate(requests):
        if index:
            t_s += next(gaps)
        yield t_s, request


def inter_arrival_gaps_s(
    rate: float, burstiness: float | None, rng: np.random.Generator
) -> Iterator[float]:
    """Endless inter-arrival gaps in seconds with mean 1/rate and coefficient of variation CV.

    CV None draws exponential gaps (Poisson); otherwise Gamma gaps with shape 1/CV² and scale
    CV²/rate (CV 1 is the exponential distribution again, drawn the Gamma way). Drawn in batches so the per-request cost stays small.
    """
    while True:
        if burstiness is None:
            batch = rng.exponential(1.0 / rate, size=_GAP_BATCH)
        else:
            shape = 1.0 / burstiness**2
            batch = rng.gamma(shape, 1.0 / (rate * shape), size=_GAP_BATCH)
        yield from batch.tolist()
