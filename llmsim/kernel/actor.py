"""Actor base class and the context through which an actor reads time and sends messages."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

try:  # present wherever the compiled build was made (it comes with mypy); a no-op otherwise
    from mypy_extensions import mypyc_attr
except ImportError:  # pragma: no cover - depends on the install
    def mypyc_attr(*_args: Any, **_kwargs: Any) -> Callable[[type], type]:  # type: ignore[misc]
        return lambda cls: cls

if TYPE_CHECKING:
    import numpy as np

    from llmsim.kernel.engine import Simulation
    from llmsim.kernel.mailbox import Envelope


_RECEIVERS: dict[tuple[str | None, str], tuple[type, ...]] = {}  # (module, "Class.method") -> message types


def handles(*msg_types: type) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Mark a method as the receiver of the given message types.

    The mark lives in a registry keyed by the method's qualified name, not on the function:
    a compiled method (see docs/performance.md) takes no attributes.
    """

    def mark(fn: Callable[..., None]) -> Callable[..., None]:
        _RECEIVERS[getattr(fn, "__module__", None), fn.__qualname__] = msg_types
        return fn

    return mark


_TABLES: dict[type, dict[type, str]] = {}


def _dispatch_table(cls: type) -> dict[type, str]:
    """{message type: method name} for a class, subclasses overriding their bases (built once per class)."""
    table = _TABLES.get(cls)
    if table is not None:
        return table
    table = _TABLES[cls] = {}
    for klass in reversed(cls.__mro__):
        for attr, fn in vars(klass).items():
            qualname = getattr(fn, "__qualname__", None)
            if qualname is None:
                continue
            types = _RECEIVERS.get((klass.__module__, qualname)) or _RECEIVERS.get((None, qualname), ())
            for msg_type in types:
                table[msg_type] = attr
    return table


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

    def alone_in_instant(self) -> bool:
        """True when no other message is due at the current instant (in any phase).

        Nothing more can then happen at this instant except what the running handler sends, so
        an actor may do at once what it would otherwise ask itself to do in a later phase of
        the instant: the same result, one message fewer.
        """
        heap = self._sim.mailbox._heap
        return not heap or heap[0][0] > self._sim.now

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


@mypyc_attr(allow_interpreted_subclasses=True)
class Actor:
    """Base of every actor: override on_start and declare receivers with @handles."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.ctx: Context
        self._bound: dict[type, Callable[[Any], None]] | None = None  # handlers as bound methods, built once

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
            bound = self._bound = {t: getattr(self, attr) for t, attr in _dispatch_table(type(self)).items()}
        handler = bound.get(type(msg))
        if handler is None:
            raise TypeError(f"{type(self).__name__} {self.name!r} has no handler for {type(msg).__name__}")
        handler(msg)
