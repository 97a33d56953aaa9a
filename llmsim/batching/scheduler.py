"""The scheduling decision (pure): which sequences run next, how many tokens each, who is preempted.

Two phases, as in vLLM: `schedule` reads the replica state and returns a BatchPlan without
changing anything; the ReplicaEngine commits it. Running decodes are served first, then
running (chunked) prefills, then waiting requests, under one token budget and a sequence cap.
When KV blocks run out, the most recently admitted unscheduled sequence is preempted.
With prefix caching a waiting sequence starts from the blocks `lookup` finds cached: it
prefills only the rest, and pays from the free count only for cached blocks nobody holds.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from llmsim.batching.sequence import Sequence
from llmsim.config.environment import ServingOptions
from llmsim.memory.kv_cache import blocks_for


class CacheView(Protocol):
    """What the scheduler may ask the prefix cache, without changing it."""

    def hit(self, seq: Sequence) -> tuple[int, int]:
        """(cached blocks a waiting sequence would start with, of them blocks it takes from the pool's free
        count: cached ones nobody holds, and fresh ones for segments loaded from host memory)."""

    def freeable(self, seq: Sequence) -> int:
        """Blocks that preempting a running sequence gives back (its shared blocks others hold stay)."""


class BatchPlan:
    """One iteration's batch: prefill chunks, decodes, admissions, preemptions, KV to grow.

    `new_blocks` lists (sequence, tokens its KV must hold) for those that need more blocks;
    `hits` (sequence, cached blocks) the prefix-cache blocks each admitted sequence starts with.
    The engine sizes the run after committing the plan: `k` iterations of this batch (k > 1
    only for decode-only plans), then `tail_k` decode iterations of `tail_decodes` (contexts
    `tail_ctx`) after a mixed one.
    """

    __slots__ = ("chunks", "decodes", "admitted", "preempted", "new_blocks", "hits", "loaded_blocks", "k", "tail_ctx",
                 "tail_k", "tail_decodes")

    def __init__(self) -> None:
        self.chunks: list[tuple[Sequence, int]] = []
        self.decodes: list[Sequence] = []
        self.admitted: list[Sequence] = []
        self.preempted: list[Sequence] = []
        self.new_blocks: list[tuple[Sequence, int]] = []
        self.hits: list[tuple[Sequence, int]] = []
        self.loaded_blocks = 0  # prefix-cache blocks brought back from host memory (set on commit)
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
        """Tokens each prefill chunk already has in KV (prefix-cache hits included, once committed)."""
        return tuple([s.computed for s, _ in self.chunks])

    @property
    def decode_ctx(self) -> tuple[int, ...]:
        """Context length of each decode (tokens in KV before the iteration)."""
        return tuple([s.computed for s in self.decodes])

    @property
    def num_tokens(self) -> int:
        """Tokens processed in the iteration."""
        return len(self.decodes) + sum(n for _, n in self.chunks)


def _tokens_now(computed: int, target: int, tokens: int, chunked: bool, batch_empty: bool) -> int:
    """Tokens a sequence processes in this iteration (0 = it waits): one to decode, or a prompt chunk."""
    if computed >= target:
        return 1 if tokens >= 1 else 0
    remaining = target - computed
    if chunked:
        return remaining if remaining < tokens else tokens
    # Without chunking a prompt goes whole; a lone prompt longer than the budget still runs.
    return remaining if remaining <= tokens or batch_empty else 0


def _take(plan: BatchPlan, seq: Sequence, computed: int, target: int, n: int, need: int) -> None:
    """Put a sequence in the batch: `n` tokens, `need` more KV blocks."""
    if need:
        plan.new_blocks.append((seq, computed + n))
    if computed < target:
        plan.chunks.append((seq, n))
    else:
        plan.decodes.append(seq)


def _pick_victim(running: list[Sequence], plan: BatchPlan, current: Sequence) -> Sequence | None:
    """Most recently admitted running sequence not yet scheduled nor preempted this step (not `current`)."""
    taken = {id(s) for s in plan.decodes}
    taken.update(id(s) for s, _ in plan.chunks)
    gone = {id(s) for s in plan.preempted}
    for seq in reversed(running):
        if seq is not current and id(seq) not in taken and id(seq) not in gone:
            return seq
    return None


def _schedule_running(running: list[Sequence], tokens: int, free: int, opts: ServingOptions,
                      plan: BatchPlan, cache: CacheView | None) -> tuple[int, int]:
    """Decodes first, then chunked prefills, preempting from the tail when blocks run out.

    Returns the tokens and free blocks left.
    """
    decodes = [s for s in running if s.computed >= s.prompt_target]
    order = decodes + [s for s in running if s.computed < s.prompt_target] if len(decodes) < len(running) else decodes
    bs, chunked, preempted = opts.block_size, opts.chunked_prefill, plan.preempted
    for seq in order:
        if preempted and seq in preempted:
            continue
        computed, target = seq.computed, seq.prompt_target
        n = _tokens_now(computed, target, tokens, chunked, not (plan.chunks or plan.decodes))
        if n <= 0:
            continue
        need = blocks_for(computed + n, bs) - seq.blocks
        while need > free:
            victim = _pick_victim(running, plan, seq)
            if victim is None:
                break
            preempted.append(victim)
            free += victim.blocks if cache is None else cache.freeable(victim)
        if need > free:
            preempted.append(seq)
            free += seq.blocks if cache is None else cache.freeable(seq)
            continue
        tokens -= n
        free -= need
        _take(plan, seq, computed, target, n, need)
    return tokens, free


def _schedule_waiting(waiting: Iterable[Sequence], n_running: int, tokens: int, free: int, opts: ServingOptions,
                      plan: BatchPlan, cache: CacheView | None) -> None:
    """Admit waiting sequences in queue order until the budget, the cap or the KV pool stops us."""
    bs, cap, chunked = opts.block_size, opts.seq_limit, opts.chunked_prefill
    for seq in waiting:
        if n_running + len(plan.admitted) >= cap:
            return
        hit, taken = cache.hit(seq) if cache is not None else (0, 0)
        computed, target = (hit * bs, seq.prompt_target) if hit else (seq.computed, seq.prompt_target)
        n = _tokens_now(computed, target, tokens, chunked, plan.empty)
        if n == 0:
            return
        need = blocks_for(computed + n, bs) - (hit or seq.blocks) + taken
        if need > free:
            return
        plan.admitted.append(seq)
        if hit:
            plan.hits.append((seq, hit))
        tokens -= n
        free -= need
        _take(plan, seq, computed, target, n, need)


def schedule(running: list[Sequence], waiting: Iterable[Sequence], free_blocks: int, opts: ServingOptions,
             cache: CacheView | None = None) -> BatchPlan:
    """Decide the next iteration's batch without changing any state (`cache`: with prefix caching)."""
    plan = BatchPlan()
    tokens, free = _schedule_running(running, opts.token_budget, free_blocks, opts, plan, cache)
    if not plan.preempted:
        _schedule_waiting(waiting, len(running), tokens, free, opts, plan, cache)
    return plan
