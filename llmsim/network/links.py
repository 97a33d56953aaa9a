"""A link whose bandwidth is shared equally by the transfers on it (processor sharing), in integer ns.

Every transfer on a link of bandwidth B with n transfers active moves B / n bytes per second.
When a transfer starts or ends the shares change, so the link is brought up to date first
(`advance`) and the next end is worked out again (`next_end`). No actor, no kernel.
"""

from __future__ import annotations

import math

NS_PER_S = 1_000_000_000


def solo_ns(nbytes: float, bandwidth_bytes_per_s: float) -> int:
    """Nanoseconds to move `nbytes` alone on a link (rounded up: a transfer never ends early)."""
    return max(0, math.ceil(nbytes * NS_PER_S / bandwidth_bytes_per_s))


class FairShareLink:
    """Active transfers (key -> bytes left) on one link; shares are equal and recomputed on every change."""

    __slots__ = ("bandwidth_bytes_per_s", "left", "now_ns", "generation")

    def __init__(self, bandwidth_bytes_per_s: float) -> None:
        self.bandwidth_bytes_per_s = bandwidth_bytes_per_s
        self.left: dict[str, float] = {}
        self.now_ns = 0
        self.generation = 0  # bumped on every change: a timer set for an older state is stale

    def advance(self, now_ns: int) -> None:
        """Move every active transfer on by its share of the bytes the link carried since the last change."""
        if self.left and now_ns > self.now_ns:
            moved = (now_ns - self.now_ns) * self.bandwidth_bytes_per_s / NS_PER_S / len(self.left)
            for key in self.left:
                self.left[key] -= moved
        self.now_ns = max(self.now_ns, now_ns)

    def add(self, key: str, nbytes: float, now_ns: int) -> None:
        """Start a transfer of `nbytes` now."""
        self.advance(now_ns)
        self.left[key] = float(nbytes)
        self.generation += 1

    def remove(self, key: str, now_ns: int) -> bool:
        """Stop a transfer (cancelled); False when it was not active."""
        self.advance(now_ns)
        if self.left.pop(key, None) is None:
            return False
        self.generation += 1
        return True

    def next_end(self) -> int | None:
        """When the transfer with the fewest bytes left ends if nothing changes (None when idle)."""
        if not self.left:
            return None
        return self.now_ns + solo_ns(min(self.left.values()) * len(self.left), self.bandwidth_bytes_per_s)

    def finish(self, now_ns: int) -> list[str]:
        """Advance to now and remove the transfers done by then (their keys, in start order)."""
        self.advance(now_ns)
        # Ends are rounded up to whole ns, so a finished transfer has at most rounding dust left.
        dust = self.bandwidth_bytes_per_s / NS_PER_S
        done = [key for key, left in self.left.items() if left <= dust]
        for key in done:
            del self.left[key]
        if done:
            self.generation += 1
        return done
