"""The scheduling decision (pure): which sequences run next, how many tokens each, who is preempted.

Two phases, as in vLLM: `schedule` reads the replica state and returns a BatchPlan without
changing anything; the GPU actor applies the plan. Running decodes are served first, then
running (chunked) prefills, then waiting requests, under one token budget and a sequence cap.
When KV blocks run out, the most recently admitted unscheduled sequence is preempted.
"""

from __future__ import annotations

from collections.abc import Iterable

from llmsim.batching.sequence import Sequence
from llmsim.config.environment import ServingOptions
from llmsim.memory.kv_cache import blocks_for


class BatchPlan:
    """One iteration's batch: prefill chunks, decodes, admissions, preemptions, KV to grow.

    `new_blocks` lists (sequence, tokens its KV must hold) for those that need more blocks.
    The engine sizes the run after committing the plan: `k` iterations of this batch (k > 1
    only for decode-only plans), then `tail_k` decode iterations of `tail_decodes` (contexts
    `tail_ctx`) after a mixed one.
    """

    __slots__ = ("chunks", "decodes", "admitted", "preempted", "new_blocks", "k", "tail_ctx", "tail_k",
                 "tail_decodes")

    def __init__(self) -> None:
        self.chunks: list[tuple[Sequence, int]] = []
        self.decodes: list[Sequence] = []
        self.admitted: list[Sequence] = []
        self.preempted: list[Sequence] = []
        self.new_blocks: list[tuple[Sequence, int]] = []
        self.k = 1
        self.tail_ctx: tuple[int, ...] = ()
        self.tail_k = 0
        self.tail_decodes: list[Sequence] | None = None

    @property
    def empty(self) -> bool:
        """True when nothing would run."""
        return not self.chunks and not self.decodes

    @property
    def prefill_new(self) -> tuple[int, ...]:
        """Tokens each prefill chunk computes."""
        return tuple([n for _, n in self.chunks])

    @property
    def prefill_cached(self) -> tuple[int, ...]:
        """Tokens each prefill chunk already has in KV."""
        return tuple([s.computed for s, _ in self.chunks])

    @property
    def decode_ctx(self) -> tuple[int, ...]:
        """Context length of each decode (tokens in KV before the iteration)."""
        return tuple([s.computed for s in self.decodes])

    @property
    def num_tokens(self) -> int:
        """Tokens processed in the iteration."""
        return len(self.decodes) + sum(n for _, n in self.chunks)


class _Budget:
    __slots__ = ("tokens", "free_blocks", "opts")

    def __init__(self, opts: ServingOptions, free_blocks: int) -> None:
        self.tokens = opts.max_num_batched_tokens
        self.free_blocks = free_blocks
        self.opts = opts


def _tokens_wanted(seq: Sequence, budget: _Budget, batch_empty: bool) -> int:
    """Tokens this sequence would process now (0 = it must wait for a later iteration)."""
    if not seq.in_prefill:
        return 1 if budget.tokens >= 1 else 0
    remaining = seq.prompt_target - seq.computed
    if budget.opts.enable_chunked_prefill:
        return min(remaining, budget.tokens)
    # Without chunking a prompt goes whole; a lone prompt longer than the budget still runs.
    return remaining if remaining <= budget.tokens or batch_empty else 0


def _pick_victim(running: list[Sequence], plan: BatchPlan, current: Sequence) -> Sequence | None:
    """Most recently admitted running sequence not yet scheduled nor preempted this step (not `current`)."""
    taken = {id(s) for s in plan.decodes}
    taken.update(id(s) for s, _ in plan.chunks)
    gone = {id(s) for s in plan.preempted}
    for seq in reversed(running):
        if seq is not current and id(seq) not in taken and id(seq) not in gone:
            return seq
    return None


def _schedule_running(running: list[Sequence], budget: _Budget, plan: BatchPlan) -> None:
    """Decodes first, then chunked prefills, preempting from the tail when blocks run out.

    Runs once per GPU iteration, so the common path (no preemption) is written out inline:
    no property reads, no helper calls per sequence.
    """
    decodes = [s for s in running if s.computed >= s.prompt_target]
    order = decodes + [s for s in running if s.computed < s.prompt_target] if len(decodes) < len(running) else decodes
    bs, chunked = budget.opts.block_size, budget.opts.enable_chunked_prefill
    tokens, free = budget.tokens, budget.free_blocks
    preempted, new_blocks = plan.preempted, plan.new_blocks
    for seq in order:
        if preempted and seq in preempted:
            continue
        computed, target = seq.computed, seq.prompt_target
        if computed < target:
            remaining = target - computed
            if chunked:
                n = remaining if remaining < tokens else tokens
            else:  # without chunking a prompt goes whole; a lone prompt longer than the budget still runs
                n = remaining if remaining <= tokens or not (plan.chunks or plan.decodes) else 0
        else:
            n = 1 if tokens >= 1 else 0
        if n <= 0:
            continue
        need = -(-(computed + n) // bs) - seq.blocks
        while need > free:
            victim = _pick_victim(running, plan, seq)
            if victim is None:
                break
            preempted.append(victim)
            free += victim.blocks
        if need > free:
            preempted.append(seq)
            free += seq.blocks
            continue
        tokens -= n
        free -= need
        if need:
            new_blocks.append((seq, computed + n))
        if computed < target:
            plan.chunks.append((seq, n))
        else:
            plan.decodes.append(seq)
    budget.tokens, budget.free_blocks = tokens, free


def _take(seq: Sequence, n: int, need: int, budget: _Budget, plan: BatchPlan) -> None:
    budget.tokens -= n
    budget.free_blocks -= need
    if need:
        plan.new_blocks.append((seq, seq.computed + n))
    if seq.in_prefill:
        plan.chunks.append((seq, n))
    else:
        plan.decodes.append(seq)


def _schedule_waiting(waiting: Iterable[Sequence], n_running: int, budget: _Budget, plan: BatchPlan) -> None:
    """Admit waiting sequences in queue order until the budget, the cap or the KV pool stops us."""
    for seq in waiting:
        if n_running + len(plan.admitted) >= budget.opts.max_num_seqs:
            return
        n = _tokens_wanted(seq, budget, plan.empty)
        if n == 0:
            return
        need = blocks_for(seq.computed + n, budget.opts.block_size) - seq.blocks
        if need > budget.free_blocks:
            return
        plan.admitted.append(seq)
        _take(seq, n, need, budget, plan)


def schedule(running: list[Sequence], waiting: Iterable[Sequence], free_blocks: int, opts: ServingOptions) -> BatchPlan:
    """Decide the next iteration's batch without changing any state."""
    plan = BatchPlan()
    budget = _Budget(opts, free_blocks)
    _schedule_running(running, budget, plan)
    if not plan.preempted:
        n_running = len(running)
        _schedule_waiting(waiting, n_running, budget, plan)
    return plan
