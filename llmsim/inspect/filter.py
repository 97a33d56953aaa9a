"""`llmsim events RUN filter`: the events matching a request, node, GPU, kind and time window."""

from __future__ import annotations

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
                and (self.gpu is None or getattr(event, "replica", None) == self.gpu)
                and (not self.kinds or kind_of(event) in self.kinds)
                and (self.since_s is None or t_s >= self.since_s)
                and (self.until_s is None or t_s <= self.until_s))


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
