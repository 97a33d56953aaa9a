"""The central mailbox: a heap of (deliver_at, seq, envelope) with FIFO order among ties."""

from __future__ import annotations

import heapq
from typing import Any

import msgspec


class Envelope(msgspec.Struct, frozen=True, gc=False):
    """Routing data owned by the kernel; the message inside stays a plain payload."""

    src: str
    dst: str
    sent_at: int
    deliver_at: int
    msg: Any


class Mailbox:
    """Time-ordered queue of envelopes; equal times leave in the order they were sent."""

    __slots__ = ("_heap", "_seq")

    def __init__(self) -> None:
        self._heap: list[tuple[int, int, Envelope]] = []
        self._seq = 0

    def push(self, env: Envelope) -> None:
        """Queue an envelope for delivery at its `deliver_at`."""
        self._seq += 1
        heapq.heappush(self._heap, (env.deliver_at, self._seq, env))

    def pop(self) -> Envelope:
        """Remove and return the earliest envelope (FIFO among equal times)."""
        return heapq.heappop(self._heap)[2]

    def peek_time(self) -> int | None:
        """Delivery time of the earliest envelope, or None when empty."""
        return self._heap[0][0] if self._heap else None

    def __len__(self) -> int:
        return len(self._heap)
