"""Invariants of arrivals and timestamp parsing, checked on generated inputs (hypothesis)."""

from __future__ import annotations

import calendar
from datetime import datetime

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from llmsim.workload import ArrivalOptions, TraceRequest, with_arrivals
from llmsim.workload.timestamps import parse_datetime_s

_gaps = st.lists(st.floats(min_value=0.0, max_value=1e4, allow_nan=False), min_size=1, max_size=60)


def _trace(gaps_s: list[float], start_s: float) -> list[TraceRequest]:
    times = start_s + np.cumsum(gaps_s)
    return [TraceRequest(id=str(i), line=i + 1, input_tokens=1, output_tokens=1, arrival_s=float(t))
            for i, t in enumerate(times)]


@settings(max_examples=60, deadline=None)
@given(_gaps, st.floats(min_value=0, max_value=2e9), st.floats(min_value=0.1, max_value=10))
def test_requests_in_equal_requests_out_and_time_never_goes_back(gaps_s: list[float], start_s: float, scale: float) -> None:
    """Without a window every request comes out once, in order, at non-decreasing integer times."""
    trace = _trace(gaps_s, start_s)
    out = list(with_arrivals(trace, ArrivalOptions(time_scale=scale), np.random.default_rng(0)))
    assert [r.id for _, r in out] == [r.id for r in trace]
    times = [t for t, _ in out]
    assert times[0] == 0 and all(isinstance(t, int) for t in times)
    assert all(b >= a for a, b in zip(times, times[1:]))


@settings(max_examples=40, deadline=None)
@given(st.integers(min_value=1, max_value=200), st.floats(min_value=0.01, max_value=100),
       st.one_of(st.none(), st.floats(min_value=0.1, max_value=8)))
def test_generated_arrivals_are_ordered(count: int, rate: float, cv: float | None) -> None:
    """Poisson and Gamma arrivals: one per request, first at 0, never decreasing."""
    trace = [TraceRequest(id=str(i), line=i + 1, input_tokens=1, output_tokens=1) for i in range(count)]
    times = [t for t, _ in with_arrivals(trace, ArrivalOptions(rate=rate, burstiness=cv), np.random.default_rng(3))]
    assert len(times) == count and times[0] == 0
    assert all(b >= a for a, b in zip(times, times[1:]))


@given(st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(2200, 1, 1)), st.integers(min_value=0, max_value=9_999_999))
def test_datetime_parse_matches_calendar(moment: datetime, fraction_100ns: int) -> None:
    """Seven-digit fractions and whole seconds parse exactly (naive times are UTC)."""
    text = moment.strftime("%Y-%m-%d %H:%M:%S") + f".{fraction_100ns:07d}"
    whole_s, fraction_s = parse_datetime_s(text)  # type: ignore[misc]
    assert whole_s == calendar.timegm(moment.replace(microsecond=0).timetuple())
    assert fraction_s == fraction_100ns / 1e7


def test_datetime_offsets_and_malformed() -> None:
    """Offsets and Z are applied; malformed text is None."""
    base = parse_datetime_s("2024-05-10 00:00:00")
    assert parse_datetime_s("2024-05-10T00:00:00Z") == base
    assert parse_datetime_s("2024-05-10 02:00:00+02:00") == base
    assert parse_datetime_s("2024-05-09 22:30:00-0130") == base
    for bad in ("", "2024-05-10", "2024-13-10 00:00:00", "yesterday", "2024-05-10 00:00:00.5 junk"):
        assert parse_datetime_s(bad) is None
