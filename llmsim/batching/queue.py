"""The waiting queue of a replica: FCFS, or by priority (lower first) then arrival."""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Iterator

from llmsim.batching.sequence import Sequence


class WaitingQueue:
    """Requests waiting for admission; preempted ones go back to the head."""

    __slots__ = ("_by_priority", "_fifo", "_heap", "_head_seq")

    def __init__(self, by_priority: bool = False) -> None:
        self._by_priority = by_priority
        self._fifo: deque[Sequence] = deque()
        self._heap: list[tuple[int, int, int, Sequence]] = []
        self._head_seq = 0

    def push(self, seq: Sequence) -> None:
        """Add a newly arrived request at the tail (FCFS) or at its priority."""
        if self._by_priority:
            heapq.heappush(self._heap, (seq.req.priority, 1, seq.order, seq))
        else:
            self._fifo.append(seq)

    def push_front(self, seq: Sequence) -> None:
        """Put a preempted request back at the head."""
        if self._by_priority:
            self._head_seq -= 1
            heapq.heappush(self._heap, (seq.req.priority, 0, self._head_seq, seq))
        else:
            self._fifo.appendleft(seq)

    def pop(self) -> Sequence:
        """Remove the head."""
        return heapq.heappop(self._heap)[3] if self._by_priority else self._fifo.popleft()

    def __iter__(self) -> Iterator[Sequence]:
        """Iterate in admission order without removing."""
        if self._by_priority:
            return (item[3] for item in sorted(self._heap))
        return iter(self._fifo)

    def __len__(self) -> int:
        return len(self._heap) if self._by_priority else len(self._fifo)

    def drain(self) -> list[Sequence]:
        """Remove and return every waiting sequence, head first."""
        out = list(self)
        self._fifo.clear()
        self._heap.clear()
        return out
