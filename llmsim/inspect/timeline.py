"""`llmsim events RUN timeline`: one request's life as consecutive phases that add up to its latency."""

from __future__ import annotations

from pathlib import Path

import msgspec

from llmsim.errors import UsageError
from llmsim.inspect.filter import EventFilter, filter_events, kind_of
from llmsim.output.events import Event, RequestCompleted, RequestFailed

# What a request is doing after each kind of event: (phase label, category the time counts under).
PHASE_AFTER: dict[str, tuple[str, str]] = {
    "request_arrived": ("waiting for a replica", "queued"),
    "request_routed": ("dispatched to its node", "queued"),
    "request_queued": ("queued on the GPU", "queued"),
    "request_scheduled": ("prefilling", "prefilling"),
    "first_token": ("decoding", "decoding"),
    "request_preempted": ("preempted, waiting to be re-admitted", "preempted"),
    "request_resumed": ("recomputing its KV cache, then decoding", "decoding"),
    "transfer_started": ("KV cache moving to its decode replica", "transfer"),
    "transfer_finished": ("decoding", "decoding"),
}
CATEGORIES = ("queued", "prefilling", "decoding", "preempted")  # and "transfer" when the run was disaggregated
WAITING_FOR_DECODE = ("waiting for a decode replica's KV blocks", "transfer")  # first token, then a transfer


class Phase(msgspec.Struct, frozen=True, kw_only=True):
    """From one event of the request to the next."""

    label: str
    category: str
    start_ns: int
    end_ns: int
    node: int | None
    gpu: str | None

    @property
    def duration_ns(self) -> int:
        return self.end_ns - self.start_ns


class Timeline(msgspec.Struct, kw_only=True):
    """A request's events, the phases between them and the time spent per category."""

    request_id: str
    events: list[Event]
    phases: list[Phase]
    outcome: str
    arrival_ns: int
    end_ns: int | None

    @property
    def e2e_ns(self) -> int | None:
        return None if self.end_ns is None else self.end_ns - self.arrival_ns

    def totals_ns(self) -> dict[str, int]:
        """Time per category (queued, prefilling, decoding, preempted; transfer with disaggregation)."""
        out = dict.fromkeys(CATEGORIES, 0)
        for p in self.phases:
            out[p.category] = out.get(p.category, 0) + p.duration_ns
        return out


def build_timeline(path: Path, request_id: str) -> Timeline:
    """Stream the log once, keeping only the named request's events."""
    events = list(filter_events(path, EventFilter(request=request_id)))
    if not events:
        raise UsageError(f"request {request_id!r} is not in the event log", field="--request", file=str(path))
    return timeline_of(request_id, events)


def timeline_of(request_id: str, events: list[Event]) -> Timeline:
    """Phases between consecutive events; the last event ends the request (completed/failed)."""
    end = events[-1]
    arrival_ns = end.arrival_ns if isinstance(end, (RequestCompleted, RequestFailed)) else events[0].t_ns
    outcome = {"request_completed": "completed", "request_failed": "failed"}.get(kind_of(end), "in flight")
    phases = []
    for event, following in zip(events, events[1:]):
        kind = kind_of(event)
        label, category = PHASE_AFTER.get(kind, (kind, "queued"))
        if kind == "first_token" and kind_of(following) == "transfer_started":
            label, category = WAITING_FOR_DECODE
        phases.append(Phase(label=label, category=category, start_ns=event.t_ns, end_ns=following.t_ns,
                            node=getattr(event, "node", getattr(event, "dst_node", None)),
                            gpu=getattr(event, "replica", getattr(event, "dst_replica", None))))
    return Timeline(request_id=request_id, events=events, phases=phases, outcome=outcome, arrival_ns=arrival_ns,
                    end_ns=end.t_ns if outcome != "in flight" else None)
