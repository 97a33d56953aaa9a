"""The serving engine's default batch limits for a GPU (max_num_seqs, max_num_batched_tokens, chunking), as vLLM picks them.

vLLM V1 sizes its defaults by the GPU (vllm/engine/arg_utils.py; PR #12369 for H100/H200, #17073 for
every GPU with 70 GiB or more, #17885 for keeping A100s at the small values, which gave Llama-70B TP2
36 % more throughput there):

| GPU | API server (`vllm serve`) | `LLM` class (offline) |
| --- | --- | --- |
| >= 70 GiB, not an A100 (H100, H200, B200, MI300X, A800) | 1024 seqs, 8192 tokens | 1024 seqs, 16384 tokens |
| other GPUs (A100, L40S, L4, ...) | 256 seqs, 2048 tokens | 256 seqs, 8192 tokens |

vLLM V1 always chunks prefills. vLLM V0 (0.4-0.6): 256 seqs; chunked prefill only for models with
max_model_len > 32K, at 512 tokens, else whole prompts up to max(max_model_len, 2048) tokens.
"""

from __future__ import annotations

from typing import Literal

import msgspec

EngineFamily = Literal["vllm-v1", "vllm-v0"]
LARGE_GPU_BYTES = 70 * 2**30  # vLLM's threshold on the device's total memory
V0_CHUNKED_ABOVE = 32768  # V0 turned chunked prefill on for models with a longer max_model_len
V0_CHUNK_TOKENS = 512
V0_MIN_TOKENS = 2048


class EngineLimits(msgspec.Struct, frozen=True):
    """An engine's batch limits: sequences in a batch, tokens in one iteration, whether prompts are chunked."""

    max_num_seqs: int
    max_num_batched_tokens: int
    chunked_prefill: bool = True


# The V1 defaults of a GPU below 70 GiB behind the API server: what an engine built without a GPU uses.
SMALL_GPU_SERVER = EngineLimits(256, 2048)


def large_gpu(gpu_id: str, memory_bytes: float) -> bool:
    """vLLM's test for its larger defaults: 70 GiB of device memory or more, and not an A100."""
    return memory_bytes >= LARGE_GPU_BYTES and "a100" not in gpu_id.lower()


def default_limits(engine: EngineFamily, gpu_id: str, memory_bytes: float, *, offline: bool,
                   max_model_len: int) -> EngineLimits:
    """The batch limits `engine` picks on this GPU when none are given (the table in the module docstring)."""
    if engine == "vllm-v0":
        long_context = max_model_len > V0_CHUNKED_ABOVE
        return EngineLimits(256, V0_CHUNK_TOKENS if long_context else max(max_model_len, V0_MIN_TOKENS), long_context)
    if large_gpu(gpu_id, memory_bytes):
        return EngineLimits(1024, 16384 if offline else 8192)
    return EngineLimits(256, 8192 if offline else SMALL_GPU_SERVER.max_num_batched_tokens)
