"""The central mailbox: a heap of (deliver_at, seq, envelope) with FIFO order among ties."""

from __future__ import annotations

import heapq
from typing import Any

import msgspec

# The phases of one instant, delivered in this order: ordinary messages, then iteration ends,
# then batch decisions. So a batch decided at time t sees every request that arrived at t.
PHASE_MESSAGE = 0
PHASE_ITERATION_END = 1
PHASE_SCHEDULE = 2


class Envelope(msgspec.Struct, frozen=True, gc=False):
    """Routing data owned by the kernel; the message inside stays a plain payload."""

    src: str
    dst: str
    sent_at: int
    deliver_at: int
    msg: Any


class Mailbox:
    """Time-ordered queue of envelopes; equal times leave by phase, then in the order sent.

    Phases order deliveries due at the same instant: ordinary messages (phase 0) first, then
    later phases. A GPU puts its iteration-end timers in a later phase, so that everything
    arriving at that instant is seen before it decides its next batch.
    """

    __slots__ = ("_heap", "_seq")

    def __init__(self) -> None:
        self._heap: list[tuple[int, int, int, Envelope]] = []
        self._seq = 0

    def push(self, env: Envelope, phase: int = 0) -> None:
        """Queue an envelope for delivery at its `deliver_at`, in `phase` of that instant."""
        self._seq += 1
        heapq.heappush(self._heap, (env.deliver_at, phase, self._seq, env))

    def pop(self) -> Envelope:
        """Remove and return the earliest envelope (by time, phase, then FIFO)."""
        return heapq.heappop(self._heap)[3]

    def peek_time(self) -> int | None:
        """Delivery time of the earliest envelope, or None when empty."""
        return self._heap[0][0] if self._heap else None

    def __len__(self) -> int:
        return len(self._heap)
