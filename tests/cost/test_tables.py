"""Hardware files, model specs from configs, calibration profiles and the memory-planner figures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from llmsim.cost import CostModel, get_hardware, get_profile, hardware_ids, load_model_spec, profile_names
from llmsim.cost import resolve_model_name
from llmsim.cost.calibration import default_profile_name
from llmsim.cost.model_spec import shipped_model_names
from llmsim.errors import ConfigError, InputFileError, UnknownModelError

GPU = {"id": "my_gpu", "name": "My GPU", "memory_bytes": 17179869184, "hbm_bandwidth_bytes_per_s": 5e11,
       "peak_fp16_flops": 1e14, "interconnect": "pcie", "source": "made up for a test"}


def test_user_hardware_file_adds_a_gpu(tmp_path: Path) -> None:
    """--hardware-file GPUs join the table (both {"gpus": [...]} and a bare list)."""
    wrapped, bare = tmp_path / "a.json", tmp_path / "b.json"
    wrapped.write_text(json.dumps({"gpus": [GPU]}))
    bare.write_text(json.dumps([GPU]))
    for path in (wrapped, bare):
        hw = get_hardware("my_gpu", str(path))
        assert hw.peak_fp16_flops == 1e14 and hw.peak_fp8_flops == 0
        assert "my_gpu" in hardware_ids(str(path))
    cm = CostModel(load_model_spec("llama-2-7b-hf"), get_hardware("my_gpu", str(wrapped)))
    assert cm.decode_step_s(1, 10) > cm.weight_bytes_per_gpu / 5e11


def test_bad_hardware_file_is_one_line_error(tmp_path: Path) -> None:
    """Invalid GPU entries and broken JSON raise project errors, not tracebacks."""
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{**GPU, "interconnect": "carrier-pigeon"}]))
    with pytest.raises(ConfigError):
        get_hardware("my_gpu", str(bad))
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(InputFileError):
        get_hardware("my_gpu", str(broken))
    with pytest.raises(InputFileError):
        get_hardware("my_gpu", str(tmp_path / "missing.json"))


def test_shipped_configs_cover_issue_models() -> None:
    """All ten shared configs plus Llama-2-13B and Llama-3-8B/70B ship, and each loads."""
    names = shipped_model_names()
    for name in ("llama-2-13b-hf", "llama-3-8b-instruct", "llama-3-70b-instruct", "qwen3-30b-a3b", "yi-34b"):
        assert name in names
    assert len(names) >= 13
    for name in names:
        assert load_model_spec(name).param_count > 1e9


def test_moe_specs() -> None:
    """Mixtral and Qwen3-MoE parse expert counts, top-k and expert width."""
    mixtral, qwen = load_model_spec("mixtral-8x7b-v0.1"), load_model_spec("Qwen/Qwen3-30B-A3B")
    assert (mixtral.num_experts, mixtral.experts_per_token, mixtral.moe_intermediate_size) == (8, 2, 14336)
    assert (qwen.num_experts, qwen.experts_per_token, qwen.moe_intermediate_size) == (128, 8, 768)
    assert mixtral.param_count == pytest.approx(46.7e9, rel=0.01)
    assert qwen.active_param_count == pytest.approx(3.3e9, rel=0.05)


def test_local_config_folder(tmp_path: Path) -> None:
    """A local folder with config.json loads, named after the folder."""
    folder = tmp_path / "tiny-model"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({
        "model_type": "llama", "hidden_size": 256, "num_attention_heads": 4, "num_key_value_heads": 2,
        "num_hidden_layers": 2, "intermediate_size": 512, "vocab_size": 1000}))
    assert resolve_model_name(str(folder)) == "tiny-model"
    spec = load_model_spec(str(folder / "config.json"))
    assert (spec.name, spec.head_dim, spec.num_kv_heads) == ("tiny-model", 64, 2)
    with pytest.raises(UnknownModelError):
        resolve_model_name(str(tmp_path / "nothing-here"))


def test_calibration_profiles_resolve() -> None:
    """default is today's engine family per GPU generation; the 2023 family stays selectable; none is the roofline."""
    assert default_profile_name("nvidia_H100_PCIe") == "vllm-v1-hopper"
    assert default_profile_name("nvidia_A100") == "vllm-v1-ampere"
    assert default_profile_name("nvidia_L40S") == "vllm-v1-generic"
    assert get_profile("vllm-2023", "nvidia_H100_PCIe").name == "vllm-h100"
    assert get_profile("vllm-v0", "nvidia_A100_80G_SXM").name == "vllm-v0-ampere"
    assert get_profile("none", "nvidia_A100").compute_efficiency == 1.0
    for name in profile_names():
        prof = get_profile(name, "nvidia_A100")
        assert 0 < prof.compute_efficiency <= 1 and 0 < prof.memory_efficiency <= 1
    with pytest.raises(ConfigError):
        get_profile("no-such-profile", "nvidia_A100")


def test_fitted_profiles_report_holdout_error() -> None:
    """Every shipped fitted profile records how it was obtained and its error (held-out, or on its fit points)."""
    for name in profile_names()[2:]:
        prof = get_profile(name, "nvidia_A100")
        assert prof.how and (prof.holdout_mape_pct is not None or prof.fit_mape_pct is not None)


def test_activation_bytes_grow_with_tokens() -> None:
    """The activation workspace grows with the token budget and is positive."""
    cm = CostModel(load_model_spec("llama-3.1-8b-instruct"), get_hardware("nvidia_A100"))
    assert 0 < cm.activation_bytes_per_gpu(512) < cm.activation_bytes_per_gpu(8192)
