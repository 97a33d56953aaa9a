"""Hand-computed roofline figures the issue asks to pin (TP, GQA, MoE, precision)."""

from __future__ import annotations

import pytest

from llmsim.cost import CostModel, Precision, get_hardware, load_model_spec
from llmsim.cost import operators as opmod
from llmsim.cost.precision import precision_from_dtype


def _cm(model: str, hw: str = "nvidia_A100_80G_SXM", **kw: object) -> CostModel:
    return CostModel(load_model_spec(model), get_hardware(hw), **kw)  # type: ignore[arg-type]


def test_tp2_halves_weight_bytes() -> None:
    """TP=2 halves per-GPU weight bytes (norm weights, replicated, aside)."""
    one, two = _cm("llama-2-7b-hf", calibration="none"), _cm("llama-2-7b-hf", tp=2, calibration="none")
    assert two.weight_bytes_per_gpu == pytest.approx(one.weight_bytes_per_gpu / 2, rel=1e-3)


def test_tp2_adds_allreduce_time() -> None:
    """TP=2 adds two all-reduces per layer: latency + 2(n-1)/n * bytes / bandwidth each."""
    cm = _cm("llama-2-7b-hf", tp=2, calibration="none")
    hw = cm.hw
    tokens = 1000
    expected = hw.interconnect_latency_s + 2 * 0.5 * tokens * 4096 * 2 / hw.interconnect_bandwidth_bytes_per_s
    assert cm.allreduce_s(tokens) == pytest.approx(expected)
    assert _cm("llama-2-7b-hf", calibration="none").allreduce_s(tokens) == 0.0
    parts = cm.breakdown_s([tokens], [0], [])
    assert parts["tp_allreduce"] == pytest.approx(2 * 32 * expected)


def test_pcie_allreduce_slower_than_nvlink() -> None:
    """The same all-reduce costs more over PCIe than over NVLink."""
    pcie = _cm("llama-2-7b-hf", hw="nvidia_A100_80G_PCIe", tp=2, calibration="none")
    nvlink = _cm("llama-2-7b-hf", hw="nvidia_A100_80G_SXM", tp=2, calibration="none")
    assert pcie.allreduce_s(512) > 5 * nvlink.allreduce_s(512)


def test_gqa_shrinks_kv_bytes_by_head_ratio() -> None:
    """Llama-3.1-8B (8 KV heads of 32) holds 4x less KV per token than an MHA model of equal shape."""
    gqa = _cm("llama-3.1-8b-instruct")
    mha = _cm("llama-2-7b-hf")  # same layers, hidden size and head_dim; 32 KV heads
    assert mha.kv_bytes_per_token_per_gpu == 4 * gqa.kv_bytes_per_token_per_gpu
    assert gqa.kv_bytes_per_token_per_gpu == 2 * 32 * 8 * 128 * 2


def test_moe_top2_of_8_batch1_reads_two_experts() -> None:
    """Mixtral (top-2 of 8) at one token reads exactly 2 experts' weights; many tokens read nearly all 8."""
    spec = load_model_spec("mixtral-8x7b-v0.1")
    s = opmod.shard(spec, 1)
    assert opmod.expected_experts_touched(8, 2, 1) == pytest.approx(2.0)
    ops = {op.name: op for op in opmod.linear_ops(s, Precision(), 1, 1)}
    expert_bytes = 3 * spec.hidden_size * spec.moe_intermediate_size * 2
    moe_weight_bytes = ops["moe_up_proj"].bytes + ops["moe_down_proj"].bytes
    assert moe_weight_bytes == pytest.approx(2 * expert_bytes, rel=0.01)
    assert opmod.expected_experts_touched(8, 2, 64) == pytest.approx(8.0, rel=1e-3)


def test_prefill_compute_bound_decode_memory_bound() -> None:
    """A 2048-token prefill is compute-bound in its GEMMs; a batch-1 decode is memory-bound."""
    cm = _cm("llama-2-7b-hf", calibration="none")
    ridge = cm.peak_flops / cm.hw.hbm_bandwidth_bytes_per_s
    prefill = {op.name: op for op in cm.breakdown([2048], [0], [])}
    decode = {op.name: op for op in cm.breakdown([], [], [100])}
    assert prefill["mlp_up_proj"].intensity > ridge
    assert decode["mlp_up_proj"].intensity < ridge


def test_fp8_halves_weight_bytes_and_uses_fp8_peak() -> None:
    """fp8 stores 1 byte per weight and runs GEMMs at the FP8 peak where the GPU has one."""
    fp16 = _cm("llama-2-7b-hf", hw="nvidia_H100", calibration="none")
    fp8 = _cm("llama-2-7b-hf", hw="nvidia_H100", precision=precision_from_dtype("fp8"), calibration="none")
    assert fp8.weight_bytes_per_gpu == pytest.approx(fp16.weight_bytes_per_gpu / 2, rel=1e-3)
    assert fp8.peak_flops == fp8.hw.peak_fp8_flops
    a100_fp8 = _cm("llama-2-7b-hf", precision=precision_from_dtype("fp8"), calibration="none")
    assert a100_fp8.peak_flops == a100_fp8.hw.peak_fp16_flops  # no FP8 tensor cores on A100


def test_int8_uses_int8_peak_and_int4_fp16_math() -> None:
    """int8 (W8A8) uses the INT8 peak; int4 is weight-only: half a byte per weight, FP16 math."""
    int8 = _cm("llama-2-7b-hf", precision=precision_from_dtype("int8"), calibration="none")
    assert int8.peak_flops == int8.hw.peak_int8_flops
    int4 = _cm("llama-2-7b-hf", precision=precision_from_dtype("int4"), calibration="none")
    fp16 = _cm("llama-2-7b-hf", calibration="none")
    assert int4.peak_flops == int4.hw.peak_fp16_flops
    assert int4.weight_bytes_per_gpu < 0.3 * fp16.weight_bytes_per_gpu


def test_causal_prefill_attention_flops() -> None:
    """Causal attention of n new tokens over c cached keys costs 4*heads*head_dim*(n*c + n(n+1)/2) FLOPs."""
    s = opmod.shard(load_model_spec("llama-2-7b-hf"), 1)
    op = opmod.prefill_attention_op(s, Precision(), [100], [50], 167936)
    assert op.flops == pytest.approx(4 * 32 * 128 * (100 * 50 + 100 * 101 / 2))


def test_calibrated_is_slower_than_pure_roofline() -> None:
    """The default profile is slower than the pure roofline (efficiencies < 1 plus overheads)."""
    for hw in ("nvidia_A100_80G_SXM", "nvidia_H100", "nvidia_L4"):
        none, default = _cm("llama-3.1-8b-instruct", hw=hw, calibration="none"), _cm("llama-3.1-8b-instruct", hw=hw)
        assert default.decode_step_s(8, 512) > none.decode_step_s(8, 512)
        assert default.prefill_s(1, 1024) > none.prefill_s(1, 1024)


def test_custom_allreduce_below_8mib_nccl_ring_above() -> None:
    """With a custom all-reduce, small messages pay its one latency (no ring steps); over 8 MiB, or with
    the custom kernel turned off (vLLM's --disable-custom-all-reduce), the NCCL ring's latency per step."""
    from llmsim.cost.calibration import CalibrationProfile
    from llmsim.cost.cost_model import CUSTOM_ALLREDUCE_MAX_BYTES

    prof = CalibrationProfile(name="t", allreduce_latency_s=10e-6, allreduce_step_latency_s=5e-6,
                              custom_allreduce_latency_s=4e-6, custom_allreduce_doubling_latency_s=1e-6)
    cm = _cm("llama-2-70b-hf", hw="nvidia_H100", tp=4, calibration=prof)
    nccl = _cm("llama-2-70b-hf", hw="nvidia_H100", tp=4, calibration=prof, custom_all_reduce=False)
    bw = cm.hw.interconnect_bandwidth_bytes_per_s
    small, large = 8, CUSTOM_ALLREDUCE_MAX_BYTES // (8192 * 2) + 1  # tokens of 8192 fp16 hidden values
    transfer = 2 * 3 / 4 * small * 8192 * 2 / bw
    assert cm.allreduce_s(small) == pytest.approx(4e-6 + 2 * 1e-6 + transfer)  # TP4: two doublings
    assert nccl.allreduce_s(small) == pytest.approx(10e-6 + 6 * 5e-6 + transfer)
    big = 2 * 3 / 4 * large * 8192 * 2 / bw
    assert cm.allreduce_s(large) == pytest.approx(10e-6 + 6 * 5e-6 + big) == nccl.allreduce_s(large)
    assert _cm("llama-2-70b-hf", hw="nvidia_H100", tp=4, calibration=CalibrationProfile(name="n")).allreduce_s(small) \
        == pytest.approx(cm.hw.interconnect_latency_s + transfer)  # no custom latency in the profile: NCCL


@pytest.mark.parametrize(("hw", "tp", "custom"), [("nvidia_L40S", 2, True), ("nvidia_L40S", 4, False),
                                                 ("nvidia_H100", 4, True), ("nvidia_H100", 8, True),
                                                 ("nvidia_H100", 3, False)])
def test_custom_allreduce_needs_nvlink_beyond_two_gpus(hw: str, tp: int, custom: bool) -> None:
    """vLLM runs its custom all-reduce on 2, 4, 6, 8 (or 16) GPUs, and on more than two only over NVLink:
    a PCIe TP4 group all-reduces through NCCL even when the option leaves the kernel on."""
    from llmsim.cost.calibration import CalibrationProfile

    prof = CalibrationProfile(name="t", allreduce_latency_s=10e-6, allreduce_step_latency_s=5e-6,
                              custom_allreduce_latency_s=4e-6, custom_allreduce_doubling_latency_s=1e-6)
    on = _cm("llama-2-7b-hf", hw=hw, tp=tp, calibration=prof)
    off = _cm("llama-2-7b-hf", hw=hw, tp=tp, calibration=prof, custom_all_reduce=False)
    assert (on.custom_allreduce_latency_s is not None) is custom
    assert (on.allreduce_s(8) < off.allreduce_s(8)) is custom


def test_kv_cache_dtype_is_vllms() -> None:
    """fp8 quantises weights and activations; the KV cache is 16-bit unless --kv-cache-dtype says fp8."""
    from llmsim.errors import UsageError

    assert precision_from_dtype("fp8").kv_bits == 16 and precision_from_dtype("fp8", "auto").kv_bits == 16
    assert precision_from_dtype("fp8", "fp8").kv_bits == 8 and precision_from_dtype("bf16", "fp8").weight_bits == 16
    with pytest.raises(UsageError):
        precision_from_dtype("fp16", "fp4")
