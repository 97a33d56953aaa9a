"""Streams one line per finished request to requests.jsonl."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec

from llmsim.kernel.clock import ns_to_s
from llmsim.output.event_log import JsonlWriter
from llmsim.output.events import RequestCompleted, RequestFailed


class RequestRecord(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """What requests.jsonl says about one request (times in seconds)."""

    id: str
    model: str
    outcome: str
    failure_reason: str | None
    node: int | None
    gpu: str | None
    arrival_s: float
    scheduled_s: float | None
    first_token_s: float | None
    finish_s: float
    input_tokens: int
    output_tokens: int
    preemptions: int
    cached_tokens: int = 0


def record_of(event: RequestCompleted | RequestFailed) -> RequestRecord:
    """Turn a completion or failure event into its requests.jsonl record."""
    if isinstance(event, RequestCompleted):
        return RequestRecord(
            id=event.request_id, model=event.model, outcome="completed", failure_reason=None,
            node=event.node, gpu=event.replica, arrival_s=ns_to_s(event.arrival_ns),
            scheduled_s=ns_to_s(event.scheduled_ns), first_token_s=ns_to_s(event.first_token_ns),
            finish_s=ns_to_s(event.t_ns), input_tokens=event.input_tokens,
            output_tokens=event.output_tokens, preemptions=event.preemptions, cached_tokens=event.cached_tokens,
        )
    return RequestRecord(
        id=event.request_id, model=event.model, outcome="failed", failure_reason=event.reason,
        node=event.node, gpu=event.replica, arrival_s=ns_to_s(event.arrival_ns), scheduled_s=None,
        first_token_s=None, finish_s=ns_to_s(event.t_ns), input_tokens=event.input_tokens,
        output_tokens=event.output_tokens, preemptions=0,
    )


class RequestsWriter(JsonlWriter):
    """The requests.jsonl sink: one record per completed or failed request (`handlers`: see llmsim.output.sink)."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.handlers: dict[type, Callable[[Any], None]] = {RequestCompleted: self._record, RequestFailed: self._record}

    def _record(self, event: RequestCompleted | RequestFailed) -> None:
        self.write(record_of(event))
