"""What a GPU says about its engine's records: event-log lines of a plan and a step, the message of a completion."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from llmsim.batching.scheduler import BatchPlan
from llmsim.batching.sequence import Sequence
from llmsim.batching.step import StepOutput
from llmsim.output.events import FirstToken, IterationRun, RequestPreempted, RequestResumed, RequestScheduled
from protocols.requests import RequestFinished

Emit = Callable[[Any], None]


def emit_plan(emit: Emit, plan: BatchPlan, now_ns: int, node: int, replica: str) -> None:
    """Preemptions, then admissions (first ones scheduled, later ones resumed) of a committed plan."""
    for seq in plan.preempted:
        emit(RequestPreempted(t_ns=now_ns, request_id=seq.req.id, node=node, replica=replica,
                              generated_tokens=seq.generated))
    for seq in plan.admitted:
        if seq.preemptions:
            emit(RequestResumed(t_ns=now_ns, request_id=seq.req.id, node=node, replica=replica,
                                preemptions=seq.preemptions))
        else:
            emit(RequestScheduled(t_ns=now_ns, request_id=seq.req.id, node=node, replica=replica))


def emit_step(emit: Emit, out: StepOutput, node: int, replica: str, kv_total_blocks: int) -> None:
    """First tokens, then runs of iterations, of an engine update (completions: see `completion`)."""
    for seq, t_ns in out.first_tokens:
        emit(FirstToken(t_ns=t_ns, request_id=seq.req.id, node=node, replica=replica))
    for it in out.iterations:
        emit(IterationRun(t_ns=it.end_ns, node=node, replica=replica, start_ns=it.start_ns, iterations=it.iterations,
                          batch_size=it.batch_size, prefill_tokens=it.prefill_tokens, decode_tokens=it.decode_tokens,
                          kv_used_blocks=it.kv_used_blocks, kv_total_blocks=kv_total_blocks, waiting=it.waiting))


def completion(seq: Sequence, now_ns: int, node: int, replica: str) -> RequestFinished:
    """The end record of a completed sequence."""
    return RequestFinished(request=seq.req, outcome="completed", node=node, replica=replica,
                           scheduled_ns=seq.scheduled_ns, first_token_ns=seq.first_token_ns, finish_ns=now_ns,
                           preemptions=seq.preemptions, cached_tokens=seq.cached_tokens or 0)


class LoadReportGate:
    """When a replica's load is worth reporting: the outstanding count changed or the queue emptied or
    filled, and (with an interval) at most once per interval, carrying the latest load then.

    Admissions that leave the outstanding count unchanged, and KV growth (per token), are not
    reported on their own: the next report carries them. With an interval the router routes on
    stale information, as real routers do.
    """

    __slots__ = ("interval_ns", "last_key", "last_ns", "tick_pending")

    def __init__(self, interval_ns: int) -> None:
        self.interval_ns = interval_ns
        self.last_key: tuple[int, bool] | None = None
        self.last_ns = -interval_ns
        self.tick_pending = False

    def wait_ns(self, running: int, waiting: int, now_ns: int) -> int | None:
        """None: nothing to report; 0: report now (noted as sent); > 0: ask again after that long (a tick)."""
        key = (running + waiting, waiting > 0)
        if key == self.last_key or self.tick_pending:
            return None
        due_ns = self.last_ns + self.interval_ns
        if now_ns < due_ns:
            self.tick_pending = True
            return due_ns - now_ns
        self.last_key, self.last_ns = key, now_ns
        return 0
