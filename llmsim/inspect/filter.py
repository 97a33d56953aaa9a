"""`llmsim events RUN filter`: the events matching a request, node, GPU, kind and time window."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import msgspec

from llmsim.inspect.source import stream_events
from llmsim.kernel.clock import NS_PER_S
from llmsim.output.events import Event


class EventFilter(msgspec.Struct, kw_only=True):
    """Conditions an event must all meet; None means "any"."""

    request: str | None = None
    node: int | None = None
    gpu: str | None = None
    kinds: tuple[str, ...] = ()
    since_s: float | None = None
    until_s: float | None = None

    def keep_line(self, line: bytes) -> bool:
        """Cheap test on the raw JSON line: can this line possibly match?"""
        if self.request is not None and _field_bytes("request_id", self.request) not in line:
            return False
        if self.kinds and not any(_field_bytes("kind", k) in line for k in self.kinds):
            return False
        return True

    def matches(self, event: Event) -> bool:
        """The exact test on a decoded event."""
        t_s = event.t_ns / NS_PER_S
        return ((self.request is None or getattr(event, "request_id", None) == self.request)
                and (self.node is None or getattr(event, "node", None) == self.node)
                and (self.gpu is None or replica_holds(getattr(event, "replica", None), self.gpu))
                and (not self.kinds or kind_of(event) in self.kinds)
                and (self.since_s is None or t_s >= self.since_s)
                and (self.until_s is None or t_s <= self.until_s))


_REPLICA = re.compile(r"n(?P<node>-?\d+)/g(?P<first>\d+)(?:-(?P<last>\d+))?")


def replica_holds(replica: str | None, gpu: str) -> bool:
    """Does `replica` (n1/g0, or n1/g0-3 for a TP group) match `gpu`: its own name, or one GPU of it (n1/g2)?"""
    if replica is None:
        return False
    if replica == gpu:
        return True
    have, want = _REPLICA.fullmatch(replica), _REPLICA.fullmatch(gpu)
    if have is None or want is None or want.group("last") is not None or have.group("node") != want.group("node"):
        return False
    first = int(have.group("first"))
    return first <= int(want.group("first")) <= int(have.group("last") or first)


def _field_bytes(name: str, value: str) -> bytes:
    """How `"name":"value"` appears in a msgspec-encoded line."""
    return b'"' + name.encode() + b'":' + msgspec.json.encode(value)


def kind_of(event: Event) -> str:
    """The event's `kind` tag."""
    return str(type(event).__struct_config__.tag)


def filter_events(path: Path, conditions: EventFilter) -> Iterator[Event]:
    """Stream the matching events in log order."""
    for event in stream_events(path, conditions.keep_line):
        if conditions.matches(event):
            yield event
