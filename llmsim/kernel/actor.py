"""Actor base class and the context through which an actor reads time and sends messages."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    import numpy as np

    from llmsim.kernel.engine import Simulation
    from llmsim.kernel.mailbox import Envelope


def handles(*msg_types: type) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Mark a method as the receiver of the given message types."""

    def mark(fn: Callable[..., None]) -> Callable[..., None]:
        fn._handles = msg_types  # type: ignore[attr-defined]
        return fn

    return mark


class Context:
    """What an actor may do: read the clock, send messages, draw random numbers, emit events."""

    __slots__ = ("_sim", "name")

    def __init__(self, sim: Simulation, name: str) -> None:
        self._sim = sim
        self.name = name

    @property
    def now(self) -> int:
        """Current virtual time in nanoseconds."""
        return self._sim.now

    @property
    def rng(self) -> np.random.Generator:
        """The simulation's seeded random generator."""
        return self._sim.rng

    @property
    def sender(self) -> str:
        """Name of the actor that sent the message being handled."""
        return self._sim.current_src

    def send(self, dst: str, msg: Any, delay_ns: int = 0, phase: int = 0) -> None:
        """Deliver `msg` to `dst` after `delay_ns` (0 = now), in `phase` of that instant."""
        self._sim.post(self.name, dst, msg, delay_ns, phase)

    def emit(self, event: Any) -> None:
        """Hand a structured event to the simulation's output sinks."""
        self._sim.emit(event)

    def spawn(self, actor: Actor) -> None:
        """Register a new actor (e.g. a GPU added at run time); its on_start runs now."""
        self._sim.add_actor(actor, start=True)

    def stop_actor(self, name: str) -> None:
        """Remove an actor; messages still addressed to it are dropped and counted."""
        self._sim.remove_actor(name)


class Actor:
    """Base of every actor: override on_start and declare receivers with @handles."""

    _dispatch: ClassVar[dict[type, str]] = {}
    _bound: dict[type, Callable[[Any], None]] | None = None  # _dispatch as bound methods, built once

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        table: dict[type, str] = {}
        for klass in reversed(cls.__mro__):
            for attr, fn in vars(klass).items():
                for msg_type in getattr(fn, "_handles", ()):
                    table[msg_type] = attr
        cls._dispatch = table

    def __init__(self, name: str) -> None:
        self.name = name
        self.ctx: Context

    def bind(self, ctx: Context) -> None:
        """Attach the context (called by the simulation when the actor is added)."""
        self.ctx = ctx

    def on_start(self) -> None:
        """Called once when the simulation starts (or when spawned during a run)."""

    def on_stop(self) -> None:
        """Called once when the simulation ends, before outputs are closed."""

    def receive(self, msg: Any, env: Envelope) -> None:
        """Dispatch `msg` to the method registered for its type."""
        bound = self._bound
        if bound is None:  # once per actor: a getattr per message was a visible share of a run
            bound = self._bound = {t: getattr(self, attr) for t, attr in self._dispatch.items()}
        handler = bound.get(type(msg))
        if handler is None:
            raise TypeError(f"{type(self).__name__} {self.name!r} has no handler for {type(msg).__name__}")
        handler(msg)
