"""The virtual-time kernel: ordering, FIFO ties, timers with generations, removal, determinism."""

from __future__ import annotations

import pytest

from llmsim.kernel import Actor, Simulation
from llmsim.kernel.actor import handles
from llmsim.kernel.clock import ns_to_s, s_to_ns
from protocols.base import Message


class Ping(Message, frozen=True, kw_only=True):
    n: int


class Tick(Message, frozen=True, kw_only=True):
    generation: int


class Recorder(Actor):
    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.seen: list[tuple[int, int, str]] = []

    @handles(Ping)
    def on_ping(self, msg: Ping) -> None:
        self.seen.append((self.ctx.now, msg.n, self.ctx.sender))


class Sender(Actor):
    def __init__(self, name: str, plan: list[tuple[int, int]]) -> None:
        super().__init__(name)
        self.plan = plan

    def on_start(self) -> None:
        for delay, n in self.plan:
            self.ctx.send("rec", Ping(n=n), delay)


def run(plan: list[tuple[int, int]]) -> Recorder:
    sim = Simulation()
    rec = Recorder("rec")
    sim.add_actor(rec)
    sim.add_actor(Sender("snd", plan))
    sim.run()
    return rec


def test_messages_delivered_in_time_order() -> None:
    """Later-sent but earlier-due messages are delivered first; the clock jumps to each."""
    rec = run([(30, 1), (10, 2), (20, 3)])
    assert rec.seen == [(10, 2, "snd"), (20, 3, "snd"), (30, 1, "snd")]


def test_ties_are_fifo() -> None:
    """Messages due at the same time leave in the order they were sent."""
    rec = run([(5, i) for i in range(10)])
    assert [n for _, n, _ in rec.seen] == list(range(10))


class TimerActor(Actor):
    """Sets a timer, then re-arms it: only the newest generation fires."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.generation = 0
        self.fired: list[tuple[int, int]] = []

    def arm(self, delay: int) -> None:
        self.generation += 1
        self.ctx.send(self.name, Tick(generation=self.generation), delay)

    def on_start(self) -> None:
        self.arm(100)
        self.arm(50)  # cancels the first: its generation is stale when it arrives

    @handles(Tick)
    def on_tick(self, msg: Tick) -> None:
        if msg.generation == self.generation:
            self.fired.append((self.ctx.now, msg.generation))


def test_timer_cancellation_by_generation() -> None:
    """A re-armed timer makes the earlier one stale; the stale delivery is ignored."""
    sim = Simulation()
    t = TimerActor("t")
    sim.add_actor(t)
    sim.run()
    assert t.fired == [(50, 2)]
    assert sim.events == 2  # both deliveries happen; one is ignored by its generation
    assert sim.now == 100


def test_run_until_stops_at_time() -> None:
    """run(until_ns) leaves later messages queued and sets the clock to the limit."""
    sim = Simulation()
    rec = Recorder("rec")
    sim.add_actor(rec)
    sim.add_actor(Sender("snd", [(10, 1), (50, 2)]))
    sim.run(until_ns=20)
    assert [n for _, n, _ in rec.seen] == [1]
    assert sim.now == 20 and len(sim.mailbox) == 1
    sim.run()
    assert [n for _, n, _ in rec.seen] == [1, 2]


def test_removed_actor_messages_are_dropped() -> None:
    """Messages to an actor that left are counted as dropped, not delivered."""
    sim = Simulation()
    sim.add_actor(Recorder("rec"))
    sim.add_actor(Sender("snd", [(10, 1)]))
    sim.remove_actor("rec")
    sim.run()
    assert sim.dropped == 1


def test_negative_delay_rejected() -> None:
    """A negative delay is a sender bug and raises."""
    sim = Simulation()
    sim.add_actor(Sender("snd", [(-1, 1)]))
    sim.add_actor(Recorder("rec"))
    with pytest.raises(ValueError):
        sim.run()


def test_unhandled_message_type_raises() -> None:
    """An actor receiving a type it does not handle fails loudly."""
    sim = Simulation()
    sim.add_actor(Recorder("rec"))
    sim.post("x", "rec", Tick(generation=1))
    with pytest.raises(TypeError):
        sim.run()


def test_duplicate_actor_name_rejected() -> None:
    sim = Simulation()
    sim.add_actor(Recorder("rec"))
    with pytest.raises(ValueError):
        sim.add_actor(Recorder("rec"))


def test_rng_is_per_simulation_and_seeded() -> None:
    """Two simulations with the same seed draw the same numbers; different seeds differ."""
    a, b, c = Simulation(seed=1), Simulation(seed=1), Simulation(seed=2)
    assert a.rng.random() == b.rng.random()
    assert Simulation(seed=1).rng.random() != c.rng.random()


def test_clock_conversions_round_trip() -> None:
    assert s_to_ns(1.5) == 1_500_000_000
    assert ns_to_s(s_to_ns(0.123456789)) == pytest.approx(0.123456789)


def test_sinks_receive_emitted_events() -> None:
    got: list[object] = []
    sim = Simulation(sinks=[got.append])
    sim.emit("x")
    assert got == ["x"]


class _Picky:
    """A sink that declares the event types it wants."""

    def __init__(self) -> None:
        self.got: list[object] = []
        self.handlers = {int: self.got.append}

    def __call__(self, event: object) -> None:
        raise AssertionError("a sink with handlers is called through them")


def test_sinks_with_handlers_get_only_their_types() -> None:
    everything: list[object] = []
    picky = _Picky()
    sim = Simulation(sinks=[everything.append, picky])
    for event in ("x", 1, 2.5, 3):
        sim.emit(event)
    late: list[object] = []
    sim.add_sink(late.append)
    sim.emit(4)
    assert everything == ["x", 1, 2.5, 3, 4]
    assert picky.got == [1, 3, 4]
    assert late == [4]


def test_run_relaxes_the_young_gc_threshold_and_restores_it() -> None:
    """During run() the young generation collects less often; the caller's setting comes back, even on errors."""
    import gc

    from llmsim.kernel.engine import RUN_GC_THRESHOLD

    seen: list[int] = []

    class Probe(Actor):
        @handles(Ping)
        def on_ping(self, msg: Ping) -> None:
            seen.append(gc.get_threshold()[0])
            if msg.n == 2:
                raise RuntimeError("handler failed")

    before = gc.get_threshold()
    try:
        gc.set_threshold(700, before[1], before[2])
        sim = Simulation()
        sim.add_actor(Probe("p"))
        sim.post("t", "p", Ping(n=1), 5)
        sim.run()
        assert seen == [RUN_GC_THRESHOLD] and gc.get_threshold()[0] == 700
        sim.post("t", "p", Ping(n=2), 5)
        with pytest.raises(RuntimeError):
            sim.run()
        assert gc.get_threshold()[0] == 700
    finally:
        gc.set_threshold(*before)


def test_alone_in_instant_sees_other_messages_due_now() -> None:
    """An actor is alone in its instant only when no other message is due then, whatever the phase."""
    answers: list[tuple[int, bool]] = []

    class Asker(Actor):
        @handles(Ping)
        def on_ping(self, msg: Ping) -> None:
            answers.append((msg.n, self.ctx.alone_in_instant()))
            if msg.n == 3:
                self.ctx.send(self.name, Ping(n=4))  # sent now, due now: no longer alone
                answers.append((5, self.ctx.alone_in_instant()))

    sim = Simulation()
    sim.add_actor(Asker("a"))
    sim.post("t", "a", Ping(n=1), 10)
    sim.post("t", "a", Ping(n=2), 10, phase=2)  # same instant, later phase
    sim.post("t", "a", Ping(n=3), 20)
    sim.run()
    assert answers == [(1, False), (2, True), (3, True), (5, False), (4, True)]
