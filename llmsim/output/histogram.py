"""A log-bucketed histogram with bounded memory and <= 1% relative error on percentiles."""

from __future__ import annotations

import math

import numpy as np

# Buckets grow by 2% per step: a value's bucket midpoint (geometric) is within 1% of it.
GROWTH = 1.02
MIN_NS = 1_000  # 1 microsecond; smaller values share the first bucket
MAX_NS = 10_000 * 1_000_000_000  # 10,000 s
N_BUCKETS = int(math.ceil(math.log(MAX_NS / MIN_NS) / math.log(GROWTH))) + 2
_LOG_G = math.log(GROWTH)


def bucket_of(values_ns: np.ndarray) -> np.ndarray:
    """Bucket index of each value (0 holds everything below MIN_NS)."""
    v = np.maximum(np.asarray(values_ns, dtype=np.float64), MIN_NS)
    idx = np.floor(np.log(v / MIN_NS) / _LOG_G).astype(np.int64) + 1
    idx[np.asarray(values_ns) < MIN_NS] = 0
    return np.minimum(idx, N_BUCKETS - 1)


def bucket_value_ns(idx: int) -> float:
    """Representative value of a bucket (geometric midpoint)."""
    if idx == 0:
        return MIN_NS / 2
    return MIN_NS * GROWTH ** (idx - 1) * math.sqrt(GROWTH)


class LogHistogram:
    """Counts of values in log-spaced buckets; mergeable by adding counts."""

    __slots__ = ("counts", "total", "sum_ns", "max_ns")

    def __init__(self) -> None:
        self.counts = np.zeros(N_BUCKETS, dtype=np.int64)
        self.total = 0
        self.sum_ns = 0
        self.max_ns = 0

    def add(self, value_ns: int, count: int = 1) -> None:
        """Record `count` observations of one value."""
        self.add_many(np.array([value_ns], dtype=np.int64), count)

    def add_many(self, values_ns: np.ndarray, count: int = 1) -> None:
        """Record each value `count` times (vectorised)."""
        if len(values_ns) == 0 or count <= 0:
            return
        np.add.at(self.counts, bucket_of(values_ns), count)
        self.total += len(values_ns) * count
        self.sum_ns += int(np.sum(values_ns, dtype=np.int64)) * count
        self.max_ns = max(self.max_ns, int(np.max(values_ns)))

    def merge_counts(self, counts: np.ndarray | tuple[int, ...], sum_ns: int, max_ns: int) -> None:
        """Add another histogram's counts."""
        arr = np.asarray(counts, dtype=np.int64)
        self.counts += arr
        self.total += int(arr.sum())
        self.sum_ns += sum_ns
        self.max_ns = max(self.max_ns, max_ns)

    def percentile_ns(self, q: float) -> float:
        """Value at quantile q in [0, 100] (bucket midpoint; exact max for q = 100)."""
        if self.total == 0:
            return 0.0
        if q >= 100:
            return float(self.max_ns)
        rank = q / 100 * self.total
        idx = int(np.searchsorted(np.cumsum(self.counts), max(rank, 1), side="left"))
        return min(bucket_value_ns(idx), float(self.max_ns))
