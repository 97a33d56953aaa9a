"""The engine's default batch limits per GPU (vLLM's table), and how given values combine with them."""

from __future__ import annotations

import pytest

from llmsim.config.engine_limits import EngineLimits, default_limits
from llmsim.config.environment import ServingOptions
from llmsim.cost import get_hardware
from llmsim.memory.sizing import placed_options

GIB = 2**30


@pytest.mark.parametrize(("gpu", "offline", "limits"), [
    ("nvidia_H100_SXM", False, EngineLimits(1024, 8192)), ("nvidia_H100_SXM", True, EngineLimits(1024, 16384)),
    ("nvidia_H200", False, EngineLimits(1024, 8192)), ("amd_MI300X", False, EngineLimits(1024, 8192)),
    ("nvidia_A800_80G_SXM", False, EngineLimits(1024, 8192)),  # 80 GB and not an A100 by name
    ("nvidia_A100_80G_SXM", False, EngineLimits(256, 2048)), ("nvidia_A100_80G_SXM", True, EngineLimits(256, 8192)),
    ("nvidia_L40S", False, EngineLimits(256, 2048)), ("nvidia_L4", True, EngineLimits(256, 8192)),
])
def test_v1_limits_follow_the_gpu(gpu: str, offline: bool, limits: EngineLimits) -> None:
    """vLLM V1: large limits on GPUs of 70 GiB or more except A100s; the LLM class (offline) doubles the budget."""
    hw = get_hardware(gpu)
    assert default_limits("vllm-v1", hw.id, hw.memory_bytes, offline=offline, max_model_len=8192) == limits


def test_the_memory_threshold_is_the_device_memory() -> None:
    """An H100 given 64 GiB (env.json's memory_per_gpu_gb) is below vLLM's 70 GiB line."""
    assert default_limits("vllm-v1", "nvidia_H100", 64 * GIB, offline=False, max_model_len=8192) == EngineLimits(256, 2048)


@pytest.mark.parametrize(("max_len", "tokens"), [(131072, 512), (32768, 32768), (8192, 8192), (1024, 2048)])
def test_v0_limits_follow_the_context(max_len: int, tokens: int) -> None:
    """vLLM V0: 256 sequences; 512-token chunks for models over 32K, else whole prompts up to max(len, 2048)."""
    limits = default_limits("vllm-v0", "nvidia_H100", 80 * GIB, offline=False, max_model_len=max_len)
    assert limits == EngineLimits(256, tokens, chunked_prefill=max_len > 32768)


def test_given_limits_win_and_a_default_seq_limit_stays_under_the_budget() -> None:
    """Values given are kept; a defaulted max_num_seqs is capped at the token budget, as vLLM caps it."""
    h100 = get_hardware("nvidia_H100_SXM")
    given = placed_options(ServingOptions(max_num_seqs=64, max_num_batched_tokens=4096), "llama-3.1-8b-instruct",
                           h100.id, int(h100.memory_bytes))
    assert (given.max_num_seqs, given.max_num_batched_tokens) == (64, 4096)
    small = placed_options(ServingOptions(max_num_batched_tokens=512), "llama-3.1-8b-instruct", h100.id,
                           int(h100.memory_bytes))
    assert (small.max_num_seqs, small.max_num_batched_tokens) == (512, 512)
    v0 = placed_options(ServingOptions(), "llama-3.1-8b-instruct", h100.id, int(h100.memory_bytes), engine="vllm-v0")
    assert (v0.max_num_seqs, v0.max_num_batched_tokens, v0.chunked_prefill) == (256, 512, True)  # 128K context
    v0 = placed_options(ServingOptions(), "llama-3-70b-instruct", h100.id, int(h100.memory_bytes), engine="vllm-v0")
    assert (v0.max_num_seqs, v0.max_num_batched_tokens, v0.chunked_prefill) == (256, 8192, False)  # 8K: whole prompts
    given = placed_options(ServingOptions(enable_chunked_prefill=True), "llama-3-70b-instruct", h100.id,
                           int(h100.memory_bytes), engine="vllm-v0")
    assert given.chunked_prefill


def test_options_never_placed_use_the_small_gpu_defaults() -> None:
    """An engine built by hand from ServingOptions() runs with vLLM V1's small-GPU limits."""
    opts = ServingOptions()
    assert (opts.max_num_seqs, opts.max_num_batched_tokens) == (None, None)
    assert (opts.seq_limit, opts.token_budget, opts.chunked_prefill) == (256, 2048, True)


def test_a_larger_seq_limit_reserves_more_logits_memory() -> None:
    """vLLM's profiling run holds fp32 logits for one token per sequence: 1024 sequences leave fewer KV blocks."""
    from llmsim.cost import CostModel, load_model_spec

    cm = CostModel(load_model_spec("llama-3.1-8b-instruct"), get_hardware("nvidia_H100_SXM"))
    vocab = load_model_spec("llama-3.1-8b-instruct").vocab_size
    assert cm.activation_bytes_per_gpu(8192, 1024) - cm.activation_bytes_per_gpu(8192, 256) == 768 * vocab * 4
