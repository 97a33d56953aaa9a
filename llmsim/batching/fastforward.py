"""Exact fast-forward: how many decode iterations can run before the batch must change."""

from __future__ import annotations

import numpy as np

from llmsim.batching.scheduler import BatchPlan
from llmsim.batching.sequence import Sequence


def can_fast_forward(plan: BatchPlan, running: list[Sequence]) -> bool:
    """True when the plan is decode-only, covers every running sequence and admits nothing.

    A waiting request that could not be admitted now cannot be admitted before a completion:
    the decode count (so the token budget) stays fixed and free KV blocks only shrink.
    """
    return (
        not plan.chunks and not plan.preempted and not plan.admitted
        and len(plan.decodes) == len(running) and len(plan.decodes) > 0
    )


def decode_tail_length(ctx: list[int], held_blocks: int, free_blocks: int, block_size: int, k_max: int) -> int:
    """Decode iterations (0..k_max) that fit: iteration j needs ceil((ctx + j) / block_size) blocks.

    `ctx` are the tokens in KV before the first of these iterations, `held_blocks` what the
    sequences already hold, `free_blocks` what the pool still has.
    """
    if k_max <= 0:
        return 0
    bs = block_size
    # The common answer (the KV pool is not the limit) in plain Python: batches are small, numpy calls cost more.
    if sum([(c + k_max + bs - 1) // bs for c in ctx]) - held_blocks <= free_blocks:
        return k_max
    arr = np.asarray(ctx, dtype=np.int64)

    def extra(j: int) -> int:  # ceil((ctx + j) / bs) == (ctx + j + bs - 1) // bs: two ufuncs, one sum
        return int(((arr + (j + bs - 1)) // bs).sum()) - held_blocks

    lo, hi = 0, k_max  # extra(lo) <= free (or lo = 0), extra(hi) > free
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if extra(mid) <= free_blocks:
            lo = mid
        else:
            hi = mid
    return lo


def can_extend_prefill(plan: BatchPlan, running: list[Sequence], waiting: int, max_tokens: int) -> bool:
    """True when a mixed iteration can be followed, unchanged, by decode-only iterations.

    Every chunk must finish its prompt in this iteration, nothing may wait for admission,
    the plan must cover every running sequence, none may finish at the end of the iteration,
    and all of them must fit the token budget as decodes.
    """
    if not plan.chunks or plan.preempted or waiting or len(plan.chunks) + len(plan.decodes) != len(running):
        return False
    if len(running) > max_tokens:
        return False
    for seq, n in plan.chunks:
        if seq.computed + n < seq.prompt_target or seq.remaining_output <= 1:
            return False
    return all(seq.remaining_output > 1 for seq in plan.decodes)


def run_length(plan: BatchPlan, free_blocks_after: int, block_size: int) -> int:
    """Iterations (>= 1) until the first completion or the first KV block shortage.

    `free_blocks_after` is the pool's free count after the plan's own allocation (iteration 1).
    Iteration j needs ceil((computed + j) / block_size) blocks per sequence; the run stops
    before the first iteration whose extra blocks exceed what is free, and at the iteration in
    which the first sequence generates its last token.
    """
    seqs = plan.decodes
    k_complete = min(s.req.output_tokens - s.generated for s in seqs)
    if k_complete <= 1:
        return 1
    computed = [s.computed for s in seqs]
    bs = block_size
    held = sum([(c + bs) // bs for c in computed])  # blocks after iteration 1: ceil((c + 1) / bs)
    # The run stops at the first completion, or at the last iteration whose blocks fit (the first always does).
    return max(1, decode_tail_length(computed, held, free_blocks_after, bs, k_complete))
