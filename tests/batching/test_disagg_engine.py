"""ReplicaEngine roles without a simulation: a prefill replica hands off and holds KV; a decode replica reserves, waits, resumes."""

from __future__ import annotations

from llmsim.batching.engine import ReplicaEngine, Run
from llmsim.batching.step import StepOutput
from llmsim.config.environment import ServingOptions
from llmsim.memory.kv_cache import blocks_for
from protocols.disagg import HandOff, KvSource
from protocols.requests import RequestSpec

SRC = KvSource(replica="p", node=1, gpu_type="g", tp=1, nvlink_bytes_per_s=1e9)


def req(i: int, inp: int, out: int) -> RequestSpec:
    return RequestSpec(id=f"r{i}", model="m", input_tokens=inp, output_tokens=out, arrival_ns=0)


def handoff(r: RequestSpec, attempt: int = 0) -> HandOff:
    return HandOff(request=r, source=SRC, kv_bytes=1000, scheduled_ns=5, first_token_ns=100, attempt=attempt)


def step(engine: ReplicaEngine, start_ns: int, time_ns: int = 1_000) -> StepOutput:
    plan = engine.schedule(start_ns, fast_forward=False)
    return engine.update(Run(plan, start_ns, (time_ns,)), 1)


def test_prefill_role_hands_off_after_the_first_token_and_holds_kv_until_released() -> None:
    """The request leaves the running set with its first token; its blocks stay until `release`."""
    engine = ReplicaEngine(ServingOptions(block_size=16), 100, role="prefill")
    engine.add(req(0, 100, 50), 0)
    out = step(engine, 0)
    assert [s.req.id for s in out.handed_off] == ["r0"] and not out.completed
    assert not engine.running and engine.pool.used == blocks_for(100, 16) and not engine.idle
    assert engine.block_imbalance() == 0
    assert engine.release("r0") and not engine.release("r0")
    assert engine.pool.used == 0 and engine.idle and engine.committed_tokens == 0


def test_prefill_role_completes_a_one_token_request_itself() -> None:
    """Nothing to decode: the request ends on the prefill replica, no hand-off."""
    engine = ReplicaEngine(ServingOptions(), 100, role="prefill")
    engine.add(req(0, 40, 1), 0)
    out = step(engine, 0)
    assert [s.req.id for s in out.completed] == ["r0"] and not out.handed_off and engine.pool.used == 0


def test_prefill_role_never_plans_decode_tails() -> None:
    """Fast-forward of a prefill replica stops at the prompt: nothing decodes there."""
    engine = ReplicaEngine(ServingOptions(), 100, role="prefill")
    engine.add(req(0, 40, 10), 0)
    plan = engine.schedule(0, fast_forward=True)
    assert plan.k == 1 and plan.tail_k == 0


def test_decode_role_waits_for_blocks_then_reserves_in_order() -> None:
    """Offered requests get blocks first come first served, only when they fit with headroom; never fail."""
    engine = ReplicaEngine(ServingOptions(block_size=16), 10, role="decode")
    a, b = req(0, 100, 3), req(1, 100, 3)  # 7 blocks each: one at a time in a 10-block pool
    engine.offer(handoff(a), 0)
    engine.offer(handoff(b), 0)
    assert engine.schedule(0).empty and [h.request.id for h in engine.reserved] == ["r0"]
    assert engine.pool.used == 7 and len(engine.offered) == 1
    assert engine.schedule(1).empty and engine.reserved == []  # no room: b waits
    assert engine.deliver(handoff(a), 200) and not engine.running  # it joins at the next decision
    out = step(engine, 200)
    seq = out.iterations and engine.running[0]
    assert seq and (seq.generated, seq.first_token_ns, seq.scheduled_ns) == (2, 100, 5)
    t = 1_200
    while engine.running:  # one more token, then a completes and its blocks come free
        out = step(engine, t)
        t += 1_000
    assert [s.req.id for s in out.completed] == ["r0"] and engine.pool.used == 0
    engine.schedule(t)
    assert [h.request.id for h in engine.reserved] == ["r1"]


def test_decode_role_ignores_a_stale_delivery_and_gives_back_what_it_took() -> None:
    """A delivery of an older attempt does not start the request; leaving frees reserved blocks."""
    engine = ReplicaEngine(ServingOptions(), 100, role="decode")
    r = req(0, 100, 3)
    engine.offer(handoff(r, attempt=1), 0)
    engine.schedule(0)
    assert not engine.deliver(handoff(r, attempt=0), 10)
    assert [h.attempt for h in engine.take_offered()] == [1]
    assert engine.pool.used == 0 and engine.idle and engine.committed_tokens == 0


def test_async_scheduling_defers_kv_that_arrives_after_the_batch_was_decided() -> None:
    """A busy engine with async scheduling decided its next batch when its last iteration began: KV delivered
    or a request offered after that joins one boundary later, as new requests do."""
    engine = ReplicaEngine(ServingOptions(async_scheduling=True), 100, role="decode")
    engine.offer(handoff(req(0, 100, 50)), 0)
    engine.schedule(0)
    engine.deliver(handoff(req(0, 100, 50)), 5)
    step(engine, 10)  # r0 runs from 10 to 1010 (this batch was decided at 10)
    engine.offer(handoff(req(1, 100, 50)), 500)  # during that iteration
    step(engine, 1_010)  # decided at 10: r1 is not seen
    assert engine.reserved == [] and len(engine.offered) == 1
    step(engine, 2_010)
    assert [h.request.id for h in engine.reserved] == ["r1"]


def test_a_leaving_prefill_replica_keeps_the_kv_it_still_has_to_send() -> None:
    """take_all returns the prompts in progress; a handed-off request's KV stays until released, counts stay exact."""
    engine = ReplicaEngine(ServingOptions(block_size=16), 100, role="prefill")
    engine.add(req(0, 100, 50), 0)
    step(engine, 0)
    engine.add(req(1, 100, 50), 1_000)
    assert [s.req.id for s in engine.take_all()] == ["r1"]
    assert engine.pool.used == blocks_for(100, 16) and engine.committed_tokens == 100 and not engine.idle
    assert engine.release("r0") and engine.idle and engine.committed_tokens == 0 and engine.pool.used == 0
