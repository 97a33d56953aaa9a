"""Monotone search: the smallest integer in [1, cap] that passes, probing several values per round."""

from __future__ import annotations


class MonotoneSearch:
    """Finds the smallest passing value of a predicate that is false below a threshold and true from it.

    Each round `probes(k)` proposes up to k values; `record` takes their outcomes. Without a known
    passing value it first probes upwards by doubling from 1 (`grow=True`, for replica counts, where
    small answers are cheap to test) or probes `cap` itself (`grow=False`), then bisects (k-section
    with k probes) between the largest failing and the smallest passing value.
    """

    def __init__(self, cap: int, *, grow: bool = True) -> None:
        self.cap = cap
        self.grow = grow
        self.lo = 0  # largest value known to fail (0: none yet)
        self.hi: int | None = None  # smallest value known to pass
        self.infeasible = False  # even `cap` fails
        self.inconsistent = False  # a pass below a fail was seen: the predicate is not monotone here

    @property
    def done(self) -> bool:
        """The answer is known (hi), or no value up to cap passes."""
        return self.infeasible or (self.hi is not None and self.hi - self.lo <= 1)

    def probes(self, k: int) -> list[int]:
        """Up to k values to test next (empty when done)."""
        if self.done:
            return []
        k = max(1, k)
        if self.hi is None:
            if not self.grow:
                return [self.cap]
            start = 1 if self.lo == 0 else self.lo * 2
            out: list[int] = []
            value = start
            while len(out) < k and value < self.cap:
                out.append(value)
                value *= 2
            if len(out) < k or not out:
                out.append(self.cap)
            return sorted(set(v for v in out if self.lo < v <= self.cap))
        span = self.hi - self.lo
        picks = {self.lo + (span * j) // (k + 1) for j in range(1, k + 1)}
        return sorted(v for v in picks if self.lo < v < self.hi) or [self.lo + span // 2]

    def record(self, value: int, passed: bool) -> None:
        """One probe's outcome."""
        if passed:
            if value <= self.lo:
                self.inconsistent = True
            self.hi = value if self.hi is None else min(self.hi, value)
            self.lo = min(self.lo, self.hi - 1)
        else:
            if self.hi is not None and value >= self.hi:
                self.inconsistent = True
                return
            self.lo = max(self.lo, value)
            if value >= self.cap:
                self.infeasible = True

    @property
    def answer(self) -> int | None:
        """The smallest passing value, once done (None when infeasible)."""
        return None if self.infeasible else self.hi
