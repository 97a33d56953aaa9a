"""The pure scheduler: decode-first, token budget, sequence cap, KV limits, preemption order."""

from __future__ import annotations

from collections import deque

from llmsim.batching import Sequence, schedule
from llmsim.config.environment import ServingOptions
from protocols.requests import RequestSpec


def seq(i: int, inp: int, out: int = 10) -> Sequence:
    return Sequence(RequestSpec(id=f"r{i}", model="m", input_tokens=inp, output_tokens=out, arrival_ns=0), 0, i)


def decoding(i: int, ctx: int, bs: int = 16) -> Sequence:
    s = seq(i, ctx)
    s.computed = ctx
    s.generated = 1
    s.blocks = -(-ctx // bs)
    return s


def test_decodes_before_prefills_within_budget() -> None:
    """Running decodes are scheduled before any prefill; prefill gets the remaining budget."""
    opts = ServingOptions(max_num_batched_tokens=10)
    running = [decoding(0, 20), decoding(1, 20)]
    waiting = deque([seq(2, 100)])
    plan = schedule(running, waiting, free_blocks=100, opts=opts)
    assert plan.decodes == running
    assert [(s.req.id, n) for s, n in plan.chunks] == [("r2", 8)]
    assert plan.num_tokens == 10


def test_sequence_cap() -> None:
    """No more than max_num_seqs sequences run."""
    opts = ServingOptions(max_num_seqs=3)
    waiting = deque([seq(i, 5) for i in range(10)])
    plan = schedule([], waiting, 1000, opts)
    assert len(plan.admitted) == 3


def test_no_chunking_keeps_prompts_whole() -> None:
    """With chunked prefill off, a prompt that does not fit the remaining budget waits."""
    opts = ServingOptions(max_num_batched_tokens=100, enable_chunked_prefill=False)
    waiting = deque([seq(0, 60), seq(1, 60)])
    plan = schedule([], waiting, 1000, opts)
    assert [(s.req.id, n) for s, n in plan.chunks] == [("r0", 60)]


def test_lone_long_prompt_runs_without_chunking() -> None:
    """A prompt longer than the budget still runs when it is alone (no starvation)."""
    opts = ServingOptions(max_num_batched_tokens=100, enable_chunked_prefill=False)
    plan = schedule([], deque([seq(0, 500)]), 1000, opts)
    assert [(s.req.id, n) for s, n in plan.chunks] == [("r0", 500)]


def test_admission_stops_when_kv_short() -> None:
    """A waiting request whose first chunk needs more blocks than free is not admitted."""
    opts = ServingOptions(block_size=16)
    plan = schedule([], deque([seq(0, 64), seq(1, 64)]), free_blocks=5, opts=opts)
    assert [s.req.id for s in plan.admitted] == ["r0"]


def test_preempts_most_recent_when_blocks_run_out() -> None:
    """When a decode needs a block and none is free, the last admitted sequence is preempted."""
    opts = ServingOptions(block_size=16)
    running = [decoding(0, 32), decoding(1, 32), decoding(2, 32)]  # each needs a new block
    plan = schedule(running, deque([seq(3, 5)]), free_blocks=1, opts=opts)
    assert [s.req.id for s in plan.preempted] == ["r2"]
    assert [s.req.id for s in plan.decodes] == ["r0", "r1"]
    assert plan.admitted == []  # no admission in a step that preempted


def test_schedule_does_not_mutate_state() -> None:
    """Deciding changes nothing; applying is the caller's job."""
    running = [decoding(0, 32)]
    waiting = deque([seq(1, 40)])
    before = [(s.computed, s.blocks, s.generated) for s in running + list(waiting)]
    schedule(running, waiting, 0, ServingOptions())
    assert [(s.computed, s.blocks, s.generated) for s in running + list(waiting)] == before
    assert len(running) == 1 and len(waiting) == 1
