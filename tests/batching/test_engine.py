"""ReplicaEngine without a simulation: the schedule/update contract, KV exhaustion, fast-forward == stepping."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from llmsim.batching.engine import ReplicaEngine, Run
from llmsim.batching.step import StepOutput
from llmsim.config.environment import ServingOptions
from llmsim.memory.kv_cache import blocks_for
from protocols.requests import RequestSpec


def req(i: int, inp: int, out: int) -> RequestSpec:
    return RequestSpec(id=f"r{i}", model="m", input_tokens=inp, output_tokens=out, arrival_ns=0)


def engine_with(reqs: list[RequestSpec], kv_blocks: int = 1000, **opts: object) -> ReplicaEngine:
    engine = ReplicaEngine(ServingOptions(**opts), kv_blocks)  # type: ignore[arg-type]
    for r in reqs:
        assert engine.rejects(r) is None
        engine.add(r, 0)
    return engine


def step(engine: ReplicaEngine, start_ns: int, time_ns: int = 1_000) -> tuple[Run, StepOutput]:
    """One iteration: schedule without fast-forward, then update with its end."""
    plan = engine.schedule(start_ns, fast_forward=False)
    run = Run(plan, start_ns, (time_ns,))
    return run, engine.update(run, 1)


def test_schedule_on_empty_engine_is_empty() -> None:
    """Nothing queued: an empty plan, no KV taken."""
    engine = engine_with([])
    plan = engine.schedule(0)
    assert plan.empty and engine.pool.used == 0 and engine.idle


def test_schedule_admits_and_allocates_the_chunk() -> None:
    """A waiting prompt is admitted, chunked to the budget, and holds KV for the chunk only."""
    engine = engine_with([req(0, 1000, 5)], max_num_batched_tokens=256, block_size=16)
    plan = engine.schedule(7)
    assert [(s.req.id, n) for s, n in plan.chunks] == [("r0", 256)]
    assert [s.req.id for s in plan.admitted] == ["r0"] and len(engine.waiting) == 0
    assert engine.pool.used == blocks_for(256, 16) and engine.running[0].scheduled_ns == 7
    assert plan.k == 1 and plan.tail_k == 0  # a chunk that does not finish its prompt runs alone


def test_update_samples_first_token_at_prompt_end_and_completes() -> None:
    """The iteration that finishes the prompt samples the first token; the last token completes and frees KV."""
    engine = engine_with([req(0, 100, 2)])
    _, out = step(engine, 0, 1_000)
    assert [(s.req.id, t) for s, t in out.first_tokens] == [("r0", 1_000)]
    assert [it.prefill_tokens for it in out.iterations] == [100] and not out.completed
    _, out = step(engine, 1_000, 500)
    assert not out.first_tokens and [s.req.id for s in out.completed] == ["r0"]
    assert out.iterations[0].decode_tokens == 1 and out.iterations[0].end_ns == 1_500
    assert engine.pool.used == 0 and engine.committed_tokens == 0 and engine.idle
    assert engine.counters.iterations == 2 and engine.counters.busy_ns == 1_500


def test_request_larger_than_the_pool_is_rejected() -> None:
    """A request whose whole KV can never fit is refused with its reason; a small one is not."""
    engine = ReplicaEngine(ServingOptions(block_size=16), kv_blocks=10)
    assert engine.rejects(req(0, 150, 20)) == "too_long_for_kv_cache"
    assert engine.rejects(req(1, 100, 60)) is None


def test_kv_exhaustion_preempts_the_most_recent_sequence() -> None:
    """When decode blocks run out, the last admitted sequence is preempted (recompute) to the queue head."""
    engine = engine_with([req(0, 32, 30), req(1, 32, 30)], kv_blocks=4, block_size=16)
    step(engine, 0)  # both prefill: 2 blocks each, the pool is full
    assert engine.pool.free == 0 and len(engine.running) == 2
    plan = engine.schedule(1_000, fast_forward=False)  # the next decode needs a third block each
    assert [s.req.id for s in plan.preempted] == ["r1"] and [s.req.id for s in plan.decodes] == ["r0"]
    victim = next(iter(engine.waiting))
    assert victim.req.id == "r1" and victim.blocks == 0 and victim.computed == 0
    assert victim.prompt_target == 32 + 1 and victim.preemptions == 1
    assert engine.counters.preemptions == 1 and engine.pool.used == 3


def test_fast_forward_plan_runs_until_the_first_completion() -> None:
    """A decode-only batch is sized to the first completion (KV is plentiful)."""
    engine = engine_with([req(0, 10, 50), req(1, 10, 20)])
    step(engine, 0)
    plan = engine.schedule(1_000)
    assert not plan.chunks and plan.k == 20 - 1


def run_to_end(engine: ReplicaEngine, fast: bool, cut_at: list[float]) -> dict[str, tuple[int, int, int]]:
    """Drive the engine to idle; iteration i lasts duration(i). Returns per request (first token, finish, preemptions)."""
    t, i, ends = 0, 0, {}
    cuts = list(cut_at)
    while True:
        plan = engine.schedule(t, fast_forward=fast)
        if plan.empty:
            return ends
        n = plan.k + plan.tail_k
        run = Run(plan, t, tuple(duration(i + j) for j in range(n)), plan.tail_decodes if plan.tail_k else None)
        if cuts and n > 2:  # a message arrives mid-run: cut, then finish the iteration in flight
            at = run.start_ns + int(cuts.pop() * (run.ends_ns[-1] - run.start_ns))
            out, run = engine.cut(run, at)
            done = 0 if out is None else sum(it.iterations for it in out.iterations)
            i += done
            assert out is None or not out.completed
        out = engine.update(run, run.k)
        i += run.k
        t = run.ends_ns[-1]
        for seq in out.completed:
            assert seq.first_token_ns is not None
            ends[seq.req.id] = (seq.first_token_ns, t, seq.preemptions)


def duration(i: int) -> int:
    return 1_000 + (i * 7_919) % 613


@settings(max_examples=60, deadline=None)
@given(lengths=st.lists(st.tuples(st.integers(1, 300), st.integers(1, 80)), min_size=1, max_size=8),
       kv_blocks=st.integers(30, 200), budget=st.sampled_from([16, 64, 512]),
       cuts=st.lists(st.floats(0.0, 1.0), max_size=5))
def test_k_step_updates_equal_k_single_steps(lengths: list[tuple[int, int]], kv_blocks: int, budget: int,
                                             cuts: list[float]) -> None:
    """Fast-forward runs (k > 1, with cuts) give the same tokens, times, KV and statistics as stepping."""
    reqs = [req(i, a, b) for i, (a, b) in enumerate(lengths)]
    opts = dict(block_size=16, max_num_batched_tokens=budget)
    probe = ReplicaEngine(ServingOptions(block_size=16), kv_blocks)
    reqs = [r for r in reqs if probe.rejects(r) is None]
    fast, single = engine_with(reqs, kv_blocks, **opts), engine_with(reqs, kv_blocks, **opts)
    assert run_to_end(fast, True, cuts) == run_to_end(single, False, [])
    assert fast.counters.busy_ns == single.counters.busy_ns
    assert fast.counters.decode_tokens == single.counters.decode_tokens
    assert fast.counters.batch_size_sum == single.counters.batch_size_sum
    assert fast.counters.preemptions == single.counters.preemptions
    assert (fast.itl.counts.tolist(), fast.itl.sum_ns, fast.itl.max_ns) == \
        (single.itl.counts.tolist(), single.itl.sum_ns, single.itl.max_ns)
    assert fast.pool.used == single.pool.used == 0 and fast.pool.peak == single.pool.peak
