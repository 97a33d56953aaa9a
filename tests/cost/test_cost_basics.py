"""Pinned hand-computed figures and interface contracts of the roofline cost model."""

from __future__ import annotations

import numpy as np
import pytest

from llmsim.cost import CostModel, Precision, get_hardware, hardware_ids, load_model_spec, resolve_model_name
from llmsim.cost import operators as opmod
from llmsim.errors import UnknownHardwareError, UnknownModelError

SEED_GPUS = ["nvidia_V100", "nvidia_A6000", "nvidia_A100", "nvidia_A100_SXM", "nvidia_A100_80G_SXM",
             "nvidia_A800_80G_SXM", "nvidia_A40S", "nvidia_H100", "nvidia_L40S"]
EXTRA_GPUS = ["nvidia_A100_80G_PCIe", "nvidia_H100_SXM", "nvidia_H100_PCIe", "nvidia_H200", "nvidia_B200",
              "nvidia_L4", "amd_MI300X"]


def test_hardware_table_has_issue_ids_with_sources() -> None:
    """Every GPU id the issue names is in the table, each with a source."""
    ids = hardware_ids()
    for hw_id in SEED_GPUS + EXTRA_GPUS:
        assert hw_id in ids
        assert get_hardware(hw_id).source


def test_unknown_hardware_lists_known_ids() -> None:
    """An unknown id raises UnknownHardwareError naming the known ids."""
    with pytest.raises(UnknownHardwareError) as err:
        get_hardware("nvidia_Z9000")
    assert "nvidia_A100" in err.value.one_line()


@pytest.mark.parametrize("alias", ["meta-llama/Meta-Llama-3-8B-Instruct", "LLAMA-3-8B-INSTRUCT"])
def test_hf_id_aliases_resolve(alias: str) -> None:
    """Hugging Face ids and short names map to the shipped canonical name."""
    assert resolve_model_name(alias) == "llama-3-8b-instruct"
    assert resolve_model_name("meta-llama/Meta-Llama-3.1-8B-Instruct") == "llama-3.1-8b-instruct"
    assert resolve_model_name("meta-llama/Llama-2-7b-hf") == "llama-2-7b-hf"


def test_unknown_model_lists_known_names() -> None:
    """An unknown model raises UnknownModelError listing shipped names."""
    with pytest.raises(UnknownModelError) as err:
        load_model_spec("no-such-model-xyz")
    assert "llama-2-7b-hf" in err.value.one_line()


def test_llama2_7b_param_count() -> None:
    """Llama-2-7B has 6.74 B parameters."""
    assert load_model_spec("llama-2-7b-hf").param_count == pytest.approx(6.738e9, rel=1e-3)


def test_linear_flops_are_two_params_per_token() -> None:
    """Llama-2-7B linear-layer FLOPs ≈ 2 × parameters × tokens."""
    spec = load_model_spec("llama-2-7b-hf")
    tokens = 1000
    ops = opmod.linear_ops(opmod.shard(spec, 1), Precision(), tokens, tokens)
    linear = sum(op.flops * op.repeats for op in ops if op.kind == "linear")
    assert linear == pytest.approx(2 * spec.param_count * tokens, rel=0.02)


def test_batch1_decode_is_weight_bytes_over_bandwidth() -> None:
    """Pure-roofline batch-1 decode ≈ weight bytes / HBM bandwidth (within 3%)."""
    spec, hw = load_model_spec("llama-2-7b-hf"), get_hardware("nvidia_A100_80G_SXM")
    cm = CostModel(spec, hw, calibration="none")
    floor_s = cm.weight_bytes_per_gpu / hw.hbm_bandwidth_bytes_per_s
    assert cm.decode_step_s(1, 128) == pytest.approx(floor_s, rel=0.03)


def test_decode_run_matches_step_mode_exactly() -> None:
    """decode_run_ns element j equals iteration_ns of contexts + j, bit for bit."""
    cm = CostModel(load_model_spec("llama-3.1-8b-instruct"), get_hardware("nvidia_H100"))
    ctx = np.array([5, 100, 2047, 3], dtype=np.int64)
    run = cm.decode_run_ns(ctx, 50)
    assert run.dtype == np.int64
    assert [int(x) for x in run] == [cm.iteration_ns([], [], list(ctx + j)) for j in range(50)]


def test_mixed_iteration_costs_more_than_decode_alone() -> None:
    """Adding a prefill chunk to a decode batch lengthens the iteration."""
    cm = CostModel(load_model_spec("llama-2-7b-hf"), get_hardware("nvidia_A100_80G_SXM"))
    assert cm.iteration_ns([512], [0], [100, 200]) > cm.iteration_ns([], [], [100, 200]) > 0
