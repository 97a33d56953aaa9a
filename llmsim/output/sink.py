"""Event sinks that declare the event types they want (the simulation routes by type)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class TypedSink:
    """A sink with `handlers` ({event type: callable}): `Simulation.emit` calls the handler of
    an event's type directly and skips the sink for other types; calling the sink itself
    dispatches the same way (for use outside a simulation). The simulation reads `handlers`
    once per event type, so set it in __init__ and do not change it afterwards."""

    handlers: dict[type, Callable[[Any], None]]

    def __call__(self, event: object) -> None:
        handler = self.handlers.get(type(event))
        if handler is not None:
            handler(event)
