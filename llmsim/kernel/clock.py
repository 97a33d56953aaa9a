"""Virtual time is an integer count of nanoseconds; conversions happen only at the edges."""

from __future__ import annotations

NS_PER_S = 1_000_000_000
NS_PER_US = 1_000


def s_to_ns(seconds: float) -> int:
    """Convert seconds to integer nanoseconds, rounding to the nearest."""
    return int(round(seconds * NS_PER_S))


def ns_to_s(t_ns: int) -> float:
    """Convert integer nanoseconds to float seconds."""
    return t_ns / NS_PER_S

