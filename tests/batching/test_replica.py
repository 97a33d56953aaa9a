"""A GPU replica end to end with a simple exact cost: batching behaviour and exact fast-forward."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llmsim.config.environment import ServingOptions
from llmsim.output.events import FirstToken, IterationRun, RequestPreempted
from llmsim.testing import ReplicaHarness
from protocols.requests import RequestSpec


def req(i: int, inp: int, out: int, at_ns: int = 0, priority: int = 0) -> RequestSpec:
    return RequestSpec(id=f"r{i}", model="m", input_tokens=inp, output_tokens=out, arrival_ns=at_ns, priority=priority)


def outcome(h: ReplicaHarness) -> list[tuple]:
    return sorted((f.request.id, f.outcome, f.reason, f.first_token_ns, f.finish_ns, f.preemptions) for f in h.finished)


def test_all_complete_and_pool_returns_to_zero() -> None:
    """Every request completes; KV blocks are all returned at the end."""
    h = ReplicaHarness([req(i, 50 + i, 20) for i in range(20)], ServingOptions(), kv_blocks=1000).run()
    assert len(h.finished) == 20 and all(f.outcome == "completed" for f in h.finished)
    assert h.gpu.engine.pool.used == 0


def test_budget_and_cap_never_exceeded() -> None:
    """Iterations never carry more tokens than the budget nor more sequences than the cap."""
    opts = ServingOptions(max_num_batched_tokens=64, max_num_seqs=4)
    h = ReplicaHarness([req(i, 100, 30, i * 10_000) for i in range(12)], opts, kv_blocks=1000, step_mode=True).run()
    for it in h.events_of(IterationRun):
        assert it.batch_size <= 4
        assert it.prefill_tokens + it.decode_tokens <= 64
        assert it.kv_used_blocks <= it.kv_total_blocks


def test_chunked_prefill_splits_long_prompt() -> None:
    """A 1000-token prompt with a 256-token budget prefills over 4 iterations."""
    opts = ServingOptions(max_num_batched_tokens=256)
    h = ReplicaHarness([req(0, 1000, 2)], opts, kv_blocks=1000, step_mode=True).run()
    prefills = [it.prefill_tokens for it in h.events_of(IterationRun) if it.prefill_tokens]
    assert prefills == [256, 256, 256, 232]


def test_preemption_under_memory_pressure_and_all_complete() -> None:
    """With a tiny KV pool, requests are preempted (recompute) and still all complete."""
    opts = ServingOptions(block_size=16)
    reqs = [req(i, 40, 120) for i in range(8)]
    h = ReplicaHarness(reqs, opts, kv_blocks=40).run()
    assert h.events_of(RequestPreempted)
    assert sorted(f.request.id for f in h.finished if f.outcome == "completed") == sorted(r.id for r in reqs)
    assert any(f.preemptions for f in h.finished)
    assert h.gpu.engine.pool.used == 0


def test_request_larger_than_pool_fails_with_reason() -> None:
    """A request whose KV can never fit fails with too_long_for_kv_cache; others complete."""
    h = ReplicaHarness([req(0, 10_000, 10), req(1, 10, 10)], ServingOptions(block_size=16), kv_blocks=100).run()
    by_id = {f.request.id: f for f in h.finished}
    assert by_id["r0"].outcome == "failed" and by_id["r0"].reason == "too_long_for_kv_cache"
    assert by_id["r1"].outcome == "completed"


def test_fcfs_no_overtaking_among_equal_requests() -> None:
    """With FCFS, equal-size requests on one replica finish in arrival order."""
    opts = ServingOptions(max_num_seqs=2)
    h = ReplicaHarness([req(i, 64, 16, i * 1000) for i in range(10)], opts, kv_blocks=1000).run()
    done = sorted(h.finished, key=lambda f: (f.finish_ns, f.request.arrival_ns))
    assert [f.request.id for f in done] == [f"r{i}" for i in range(10)]
    firsts = [f.first_token_ns for f in sorted(h.finished, key=lambda f: f.request.arrival_ns)]
    assert firsts == sorted(firsts)


def test_priority_queue_serves_lower_priority_value_first() -> None:
    """With priority scheduling, a later request with a lower priority value is admitted first."""
    opts = ServingOptions(max_num_seqs=1, scheduling="priority")
    reqs = [req(0, 64, 50, 0, priority=5), req(1, 64, 5, 10, priority=5), req(2, 64, 5, 20, priority=0)]
    h = ReplicaHarness(reqs, opts, kv_blocks=1000).run()
    first = {f.request.id: f.first_token_ns for f in h.finished}
    assert first["r2"] < first["r1"]


def test_fast_forward_uses_far_fewer_events() -> None:
    """Long decodes run as a few long runs instead of one event per token."""
    reqs = [req(i, 32, 500) for i in range(4)]
    fast = ReplicaHarness(reqs, ServingOptions(), kv_blocks=1000).run()
    step = ReplicaHarness(reqs, ServingOptions(), kv_blocks=1000, step_mode=True).run()
    assert outcome(fast) == outcome(step)
    assert fast.sim.events * 10 < step.sim.events


request_lists = st.lists(
    st.tuples(st.integers(1, 300), st.integers(1, 80), st.integers(0, 30_000_000), st.integers(0, 2)),
    min_size=1, max_size=25,
)
serving = st.builds(
    ServingOptions, max_num_batched_tokens=st.sampled_from([16, 64, 512]), max_num_seqs=st.sampled_from([2, 5, 256]),
    block_size=st.sampled_from([4, 16]), enable_chunked_prefill=st.booleans(),
    scheduling=st.sampled_from(["fcfs", "priority"]),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(request_lists, serving, st.integers(8, 400))
def test_fast_forward_equals_step_mode(items: list, opts: ServingOptions, kv_blocks: int) -> None:
    """For any small workload: in = out, tokens match, clocks monotone, fast-forward == step-by-step."""
    reqs = [req(i, inp, out, at, pr) for i, (inp, out, at, pr) in enumerate(items)]
    fast = ReplicaHarness(reqs, opts, kv_blocks).run()
    step = ReplicaHarness(reqs, opts, kv_blocks, step_mode=True).run()
    assert outcome(fast) == outcome(step)
    assert len(fast.finished) == len(reqs)
    assert fast.gpu.engine.pool.used == 0 and step.gpu.engine.pool.used == 0
    assert fast.gpu.engine.counters == step.gpu.engine.counters
    for f in fast.finished:
        if f.outcome == "completed":
            assert f.request.arrival_ns <= f.scheduled_ns <= f.first_token_ns <= f.finish_ns
    # Iteration runs and first tokens of a fast-forwarded run are reported when the run ends
    # or is cut, so they may follow later-stamped events; everything else is in time order.
    times = [e.t_ns for e in fast.events if not isinstance(e, (IterationRun, FirstToken))]
    assert times == sorted(times)
    for it in step.events_of(IterationRun):
        assert it.kv_used_blocks <= it.kv_total_blocks
        assert it.prefill_tokens + it.decode_tokens <= opts.max_num_batched_tokens or it.batch_size == 1


def test_arrivals_behind_a_blocked_fcfs_head_do_not_cut_the_run() -> None:
    """One sequence slot: B waits for A; C, D and E queue behind B and cannot change A's run.

    FCFS: only B's arrival cuts A's fast-forwarded decode run (A runs as 48 iterations, the one
    in flight when B came, then the other 250). With priority scheduling a later arrival might
    overtake, so each arrival cuts. Both equal step mode. (Synchronous scheduling: the async
    variant is the next test.)
    """
    ms = 1_000_000
    reqs = [req(0, 20, 300), req(1, 20, 5, at_ns=50 * ms)] + [req(i, 20, 5, at_ns=(50 + 10 * i) * ms) for i in (2, 3, 4)]
    runs = {}
    for scheduling in ("fcfs", "priority"):
        opts = ServingOptions(max_num_seqs=1, scheduling=scheduling, async_scheduling=False)
        fast = ReplicaHarness(reqs, opts, kv_blocks=1000).run()
        step = ReplicaHarness(reqs, opts, kv_blocks=1000, step_mode=True).run()
        assert outcome(fast) == outcome(step)
        b_starts = next(f.scheduled_ns for f in fast.finished if f.request.id == "r1")
        runs[scheduling] = [e.iterations for e in fast.events_of(IterationRun) if e.decode_tokens and e.t_ns <= b_starts]
    assert runs["fcfs"] == [48, 1, 250]
    assert sum(runs["priority"]) == 299 and len(runs["priority"]) == 9  # cut at B, C, D and E


def test_async_scheduling_shows_an_arrival_one_iteration_later() -> None:
    """With async scheduling the batch after B's arrival was decided before B came: A's run is cut
    after the iteration in flight and the next one (one run of 2), and B is considered then. Step
    mode agrees."""
    ms = 1_000_000
    reqs = [req(0, 20, 300), req(1, 20, 5, at_ns=50 * ms)]
    opts = ServingOptions(max_num_seqs=1, async_scheduling=True)
    fast = ReplicaHarness(reqs, opts, kv_blocks=1000).run()
    step = ReplicaHarness(reqs, opts, kv_blocks=1000, step_mode=True).run()
    assert outcome(fast) == outcome(step)
    b_starts = next(f.scheduled_ns for f in fast.finished if f.request.id == "r1")
    assert [e.iterations for e in fast.events_of(IterationRun) if e.decode_tokens and e.t_ns <= b_starts] == [48, 2, 249]


def test_async_scheduling_delays_a_prefill_by_one_iteration_only_on_a_busy_engine() -> None:
    """A lone request (idle engine) starts at once either way; one arriving mid-iteration of another
    starts one iteration later with async scheduling than without (the iteration it arrived in ends
    first in both)."""
    ms = 1_000_000
    lone = [req(0, 200, 20)]
    busy = [req(0, 20, 300), req(1, 200, 20, at_ns=50 * ms + 1)]

    def first_token(reqs: list, async_on: bool, rid: str) -> int:
        h = ReplicaHarness(reqs, ServingOptions(async_scheduling=async_on), kv_blocks=1000).run()
        return next(f.first_token_ns for f in h.finished if f.request.id == rid)

    assert first_token(lone, True, "r0") == first_token(lone, False, "r0")
    sync_ns, async_ns = first_token(busy, False, "r1"), first_token(busy, True, "r1")
    last = ReplicaHarness(busy[:1], ServingOptions(), kv_blocks=1000).run().events_of(IterationRun)[-1]
    one_iteration = (last.t_ns - last.start_ns) / last.iterations  # A's decode alone
    assert 0.5 * one_iteration < async_ns - sync_ns < 1.5 * one_iteration


def test_a_cut_run_reports_the_queue_as_it_was_when_it_ended() -> None:
    """The iterations a cut applies ended before the arrival that cut them: it is not in their `waiting`."""
    ms = 1_000_000
    h = ReplicaHarness([req(0, 20, 300), req(1, 20, 5, at_ns=50 * ms)], ServingOptions(max_num_seqs=1),
                       kv_blocks=1000).run()
    before_b = [e for e in h.events_of(IterationRun) if e.t_ns < 50 * ms]
    assert [e.iterations for e in before_b] == [1, 48] and all(e.waiting == 0 for e in before_b)
    after_b = [e for e in h.events_of(IterationRun) if 50 * ms < e.t_ns < 300 * ms]
    assert after_b and all(e.waiting == 1 for e in after_b)
