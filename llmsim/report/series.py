"""Merge the 0.1 s bins of a RunData into plot buckets (numpy arrays over time)."""

from __future__ import annotations

import numpy as np

from llmsim.kernel.clock import NS_PER_S
from llmsim.report.collect import BIN_NS, GpuSeries, RunData

TARGET_BUCKETS = 200
MIN_BUCKETS = 10
REQUESTS_PER_BUCKET = 10


def default_bucket_s(end_ns: int, requests: int = 0, per_bucket: int = REQUESTS_PER_BUCKET) -> float:
    """Buckets of `per_bucket` requests on average (so rates and percentiles are not single requests),
    10 to 200 of them over the run, in whole 0.1 s bins."""
    target = min(TARGET_BUCKETS, max(MIN_BUCKETS, requests // per_bucket)) if requests else TARGET_BUCKETS
    bins = max(1, round(end_ns / BIN_NS / target))
    return bins * BIN_NS / NS_PER_S


class Buckets:
    """Fixed-width buckets from 0 to the end of the run."""

    def __init__(self, end_ns: int, bucket_s: float) -> None:
        self.bins_per_bucket = max(1, round(bucket_s * NS_PER_S / BIN_NS))
        self.width_s = self.bins_per_bucket * BIN_NS / NS_PER_S
        self.count = int(end_ns // BIN_NS) // self.bins_per_bucket + 1
        self.starts_s = np.arange(self.count) * self.width_s

    def sums(self, by_bin: dict[int, float]) -> np.ndarray:
        """Sum of a per-bin quantity in each bucket."""
        out = np.zeros(self.count)
        for b, v in by_bin.items():
            out[min(b // self.bins_per_bucket, self.count - 1)] += v
        return out

    def rate_per_s(self, by_bin: dict[int, int]) -> np.ndarray:
        """Per-second rate of a per-bin count."""
        return self.sums({k: float(v) for k, v in by_bin.items()}) / self.width_s

    def gpu_means(self, gpu: GpuSeries) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Duration-weighted KV use %, batch size and waiting requests per bucket.

        Idle time does not dilute the means; fully idle buckets show batch 0 and nothing waiting,
        and KV use carries over (an idle GPU keeps whatever cache it holds).
        """
        acc = np.zeros((self.count, 4))
        for b, vals in gpu.bins.items():
            acc[min(b // self.bins_per_bucket, self.count - 1)] += vals
        weight = acc[:, 3]
        seen = weight > 0
        mean = np.zeros((self.count, 3))
        mean[seen] = acc[seen, :3] / weight[seen, None]
        kv = mean[:, 0].copy()
        last = np.maximum.accumulate(np.where(seen, np.arange(self.count), -1))
        kv = np.where(last >= 0, kv[np.maximum(last, 0)], np.nan)
        batch, waiting = mean[:, 1], mean[:, 2]
        alive = self.alive(gpu, seen)
        return np.where(alive, kv, np.nan), np.where(alive, batch, np.nan), np.where(alive, waiting, np.nan)

    def alive(self, gpu: GpuSeries, seen: np.ndarray) -> np.ndarray:
        """Buckets from the replica's first iteration to its removal (the whole run when never removed)."""
        index = np.arange(self.count)
        first = int(np.argmax(seen)) if seen.any() else self.count
        alive = index >= first
        if gpu.removed_ns is not None:
            alive &= index * self.bins_per_bucket * BIN_NS <= gpu.removed_ns
        return alive

    def percentiles(self, at_s: np.ndarray, values: np.ndarray, qs: tuple[float, ...]) -> np.ndarray:
        """Percentiles `qs` of `values` grouped by the bucket of `at_s` (rows: buckets; NaN where empty)."""
        out = np.full((self.count, len(qs)), np.nan)
        if not len(values):
            return out
        bucket = np.minimum((at_s * NS_PER_S // BIN_NS).astype(np.int64) // self.bins_per_bucket, self.count - 1)
        order = np.argsort(bucket, kind="stable")
        bucket, values = bucket[order], values[order]
        starts = np.flatnonzero(np.r_[True, bucket[1:] != bucket[:-1]])
        for begin, end in zip(starts, np.r_[starts[1:], len(bucket)]):
            out[bucket[begin]] = np.percentile(values[begin:end], qs)
        return out

    def in_system(self, data: RunData) -> np.ndarray:
        """Requests arrived and not yet finished at each bucket's end."""
        arrived = np.cumsum(self.sums({k: float(v) for k, v in data.arrivals.items()}))
        done = np.cumsum(self.sums({k: float(v) for k, v in data.completions.items()})
                         + self.sums({k: float(v) for k, v in data.failures.items()}))
        return arrived - done
