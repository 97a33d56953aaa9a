"""A log-bucketed histogram with bounded memory and <= 1% relative error on percentiles."""

from __future__ import annotations

import math
from collections.abc import Sequence

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
    """Counts of values in log-spaced buckets; mergeable by adding counts.

    `add_many` is called once per iteration run, so it only buffers its array: binning happens
    in bulk (one numpy pass over up to FLUSH_VALUES values) when the buffer fills or when the
    counts are read. The counts are the same as binning each call on its own.
    """

    __slots__ = ("_counts", "_total", "_sum_ns", "_max_ns", "_pending", "_weights", "_pending_len")

    FLUSH_VALUES = 1 << 16  # buffered values (and arrays, below) before a bulk binning pass
    FLUSH_ARRAYS = 1 << 11

    def __init__(self) -> None:
        self._counts = np.zeros(N_BUCKETS, dtype=np.int64)
        self._total = 0
        self._sum_ns = 0
        self._max_ns = 0
        self._pending: list[np.ndarray | Sequence[int]] = []
        self._weights: list[int] = []
        self._pending_len = 0

    @property
    def counts(self) -> np.ndarray:
        """Observations per bucket."""
        self._flush()
        return self._counts

    @property
    def total(self) -> int:
        """Number of observations."""
        self._flush()
        return self._total

    @property
    def sum_ns(self) -> int:
        """Sum of every observation."""
        self._flush()
        return self._sum_ns

    @property
    def max_ns(self) -> int:
        """Largest observation (0 when empty)."""
        self._flush()
        return self._max_ns

    def add(self, value_ns: int, count: int = 1) -> None:
        """Record `count` observations of one value."""
        self.add_many(np.array([value_ns], dtype=np.int64), count)

    def add_many(self, values_ns: np.ndarray | Sequence[int], count: int = 1) -> None:
        """Record each value `count` times (an array, list or tuple; buffered, binned in bulk)."""
        n = len(values_ns)
        if n == 0 or count <= 0:
            return
        self._pending.append(values_ns)
        self._weights.append(count)
        self._pending_len += n
        if self._pending_len >= self.FLUSH_VALUES or len(self._pending) >= self.FLUSH_ARRAYS:
            self._flush()

    def _flush(self) -> None:
        """Bin every buffered value: one bucket_of and one bincount for the whole buffer."""
        if not self._pending:
            return
        pending, weights = self._pending, self._weights
        self._pending, self._weights, self._pending_len = [], [], 0
        values = np.concatenate([np.asarray(v, dtype=np.int64) for v in pending])
        w = np.repeat(np.asarray(weights, dtype=np.int64), [len(v) for v in pending])
        binned = np.bincount(bucket_of(values), weights=w, minlength=N_BUCKETS)
        self._counts += np.rint(binned).astype(np.int64)  # integer weights: exact below 2**53
        self._total += int(w.sum())
        self._sum_ns += int(np.dot(values, w))
        self._max_ns = max(self._max_ns, int(values.max()))

    def merge_counts(self, counts: np.ndarray | tuple[int, ...], sum_ns: int, max_ns: int) -> None:
        """Add another histogram's counts."""
        self._flush()
        arr = np.asarray(counts, dtype=np.int64)
        self._counts += arr
        self._total += int(arr.sum())
        self._sum_ns += sum_ns
        self._max_ns = max(self._max_ns, max_ns)

    def percentile_ns(self, q: float) -> float:
        """Value at quantile q in [0, 100] (bucket midpoint; exact max for q = 100)."""
        if self.total == 0:
            return 0.0
        if q >= 100:
            return float(self.max_ns)
        rank = q / 100 * self.total
        idx = int(np.searchsorted(np.cumsum(self.counts), max(rank, 1), side="left"))
        return min(bucket_value_ns(idx), float(self.max_ns))
