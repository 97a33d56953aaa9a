"""The node memory planner: weights, activations and KV cache of one replica against GPU memory."""

from __future__ import annotations

from typing import TYPE_CHECKING

import msgspec

if TYPE_CHECKING:
    from llmsim.cost import CostModel

GIB = 1 << 30


class MemoryPlan(msgspec.Struct, frozen=True, kw_only=True):
    """How one replica's GPU memory is split; `fits` is False with the reason when it does not."""

    fits: bool
    memory_bytes_per_gpu: int
    usable_bytes_per_gpu: int
    weight_bytes_per_gpu: int
    activation_bytes_per_gpu: int
    kv_bytes_per_gpu: int
    kv_blocks: int
    reason: str = ""


def plan_replica(
    cost: CostModel,
    memory_bytes_per_gpu: int,
    gpu_memory_utilization: float,
    max_num_batched_tokens: int,
    block_size: int,
    max_num_seqs: int = 256,
) -> MemoryPlan:
    """Size the KV pool from what is left after weights and activations (vLLM's method)."""
    usable = int(memory_bytes_per_gpu * gpu_memory_utilization)
    weights = int(cost.weight_bytes_per_gpu)
    acts = int(cost.activation_bytes_per_gpu(max_num_batched_tokens, max_num_seqs))
    kv_bytes = usable - weights - acts
    per_block = max(1, int(cost.kv_bytes_per_token_per_gpu) * block_size)
    blocks = max(0, kv_bytes // per_block)
    fits = blocks > 0
    reason = "" if fits else (
        f"weights {weights / GIB:.1f} GiB + activations {acts / GIB:.1f} GiB per GPU exceed "
        f"{usable / GIB:.1f} GiB usable ({gpu_memory_utilization:.0%} of {memory_bytes_per_gpu / GIB:.1f} GiB) at tp={cost.tp}"
    )
    return MemoryPlan(
        fits=fits, memory_bytes_per_gpu=memory_bytes_per_gpu, usable_bytes_per_gpu=usable,
        weight_bytes_per_gpu=weights, activation_bytes_per_gpu=acts, kv_bytes_per_gpu=max(0, kv_bytes),
        kv_blocks=int(blocks), reason=reason,
    )
