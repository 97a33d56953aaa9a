"""The simulation object: owns the clock, the mailbox, the actor table, the RNG and the sinks."""

from __future__ import annotations

import gc
import heapq
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from llmsim.kernel.actor import Actor, Context
from llmsim.kernel.mailbox import Envelope, Mailbox

# Young-generation GC threshold while the loop runs (CPython's default is 700). Messages and
# events are gc=False Structs, so the collector finds almost nothing per pass, yet its passes
# over the cost model's memos cost ~5% of a run; 50,000 cut them from 364 to 3 on a 30,000-request
# replay with the same peak memory. The caller's threshold is restored when run() returns.
RUN_GC_THRESHOLD = 50_000


class Simulation:
    """One self-contained simulation; several can live in one process."""

    def __init__(self, seed: int = 0, sinks: Iterable[Callable[[Any], None]] = ()) -> None:
        self.now = 0
        self.rng = np.random.default_rng(seed)
        self.mailbox = Mailbox()
        self.actors: dict[str, Actor] = {}
        self.events = 0
        self.dropped = 0
        self.stopped = False
        self.current_src = ""
        self._sinks = list(sinks)
        self._receivers: dict[type, tuple[Callable[[Any], None], ...]] = {}
        self._started = False

    def add_actor(self, actor: Actor, start: bool = False) -> None:
        """Register an actor under its unique name."""
        if actor.name in self.actors:
            raise ValueError(f"duplicate actor name {actor.name!r}")
        actor.bind(Context(self, actor.name))
        self.actors[actor.name] = actor
        if start or self._started:
            actor.on_start()

    def remove_actor(self, name: str) -> None:
        """Forget an actor; later messages to it are dropped."""
        actor = self.actors.pop(name, None)
        if actor is not None:
            actor.on_stop()

    def post(self, src: str, dst: str, msg: Any, delay_ns: int = 0, phase: int = 0) -> None:
        """Queue a message; negative delays are a bug in the sender."""
        if delay_ns < 0:
            raise ValueError(f"{src} sent {type(msg).__name__} with negative delay {delay_ns}")
        now = self.now
        t = now + delay_ns
        mailbox = self.mailbox  # Mailbox.push inlined: one post per message, the hottest call of a run
        mailbox._seq += 1
        heapq.heappush(mailbox._heap, (t, phase, mailbox._seq, Envelope(src, dst, now, t, msg)))

    def emit(self, event: Any) -> None:
        """Fan a structured event out to every sink that wants its type."""
        receivers = self._receivers.get(type(event))
        if receivers is None:
            receivers = self._receivers_of(type(event))
        for receive in receivers:
            receive(event)

    def _receivers_of(self, event_type: type) -> tuple[Callable[[Any], None], ...]:
        """Who gets events of this type (worked out once per type).

        A sink with a `handlers` dict ({event type: callable}, see llmsim.output.sink.TypedSink)
        gets only those types, straight to the handler; any other sink gets every event.
        """
        found = []
        for sink in self._sinks:
            handlers = getattr(sink, "handlers", None)
            if handlers is None:
                found.append(sink)
            elif event_type in handlers:
                found.append(handlers[event_type])
        receivers = self._receivers[event_type] = tuple(found)
        return receivers

    def add_sink(self, sink: Callable[[Any], None]) -> None:
        """Attach another event sink."""
        self._sinks.append(sink)
        self._receivers.clear()

    def stop(self) -> None:
        """Ask the run loop to return after the current delivery."""
        self.stopped = True

    def run(self, until_ns: int | None = None, on_idle: Callable[[], bool] | None = None) -> int:
        """Deliver messages in time order until the mailbox empties, `until_ns`, or stop().

        When the mailbox empties, `on_idle` (if given) may post more messages and return True
        to go on: how a driver ends a run in stages (fail what waits, collect statistics)
        without running the loop again from outside.
        """
        if not self._started:
            self._started = True
            for started in list(self.actors.values()):
                started.on_start()
        threshold = gc.get_threshold()
        gc.set_threshold(max(threshold[0], RUN_GC_THRESHOLD), threshold[1], threshold[2])
        try:
            while True:
                now = self._loop(until_ns)
                if self.stopped or self.mailbox._heap or on_idle is None or not on_idle():
                    return now
        finally:
            gc.set_threshold(*threshold)

    def _loop(self, until_ns: int | None) -> int:
        """The delivery loop behind run()."""
        heap, actors, pop = self.mailbox._heap, self.actors, heapq.heappop
        # This loop is the whole event loop: pop the earliest envelope, advance the clock to
        # it, hand it to its actor. Everything about LLM serving lives in the actors. (It reads
        # the mailbox's heap directly: method calls per event are a measurable share of a run.)
        while heap and not self.stopped:
            if until_ns is not None and heap[0][0] > until_ns:
                self.now = until_ns
                break
            env = pop(heap)[3]
            self.now = env.deliver_at
            self.events += 1
            actor = actors.get(env.dst)
            if actor is None:
                self.dropped += 1
                continue
            self.current_src = env.src
            actor.receive(env.msg, env)
        return self.now

    def finish(self) -> None:
        """Call every actor's on_stop hook."""
        for actor in list(self.actors.values()):
            actor.on_stop()
