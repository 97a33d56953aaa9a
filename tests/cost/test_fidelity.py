"""The fidelity lookup: nearest measured points per run, and an honest 'unvalidated'."""

from __future__ import annotations

from llmsim.cost.fidelity import FidelityTable, ValidatedPoint, expected_error, model_class
from llmsim.cost.model_spec import load_model_spec


def _pt(gpu: str, cls: str, tp: int, err: float, source: str = "S1") -> ValidatedPoint:
    return ValidatedPoint(calibration="c", source=source, gpu=gpu, model="m", model_class=cls, tp=tp,
                          precision="bf16", metric="e2e_p50_s", error_pct=err)


TABLE = FidelityTable(points=[_pt("H100", "dense<=10B", 1, -4.0), _pt("H100", "dense<=10B", 1, 8.0),
                              _pt("H100", "moe", 2, 30.0, "S2"), _pt("A100", "dense<=10B", 1, 50.0)])


def test_nearest_points_same_gpu_class_and_tp() -> None:
    """Only the H100 dense points count for an H100 dense TP1 run: MAPE of |−4| and |8|."""
    f = expected_error("c", "H100", "dense<=10B", 1, "bf16", TABLE)
    assert f.status == "validated" and f.points == 2 and f.mape_pct == 6.0 and f.max_abs_error_pct == 8.0
    assert f.sources == ["S1"] and "model class" in f.matched


def test_falls_back_to_the_gpu_when_no_class_matches() -> None:
    """A class never measured on this GPU uses all of the GPU's points, and says so."""
    f = expected_error("c", "H100", "dense>40B", 4, "bf16", TABLE)
    assert f.points == 3 and f.matched == "same GPU, precision"


def test_unknown_gpu_or_calibration_is_unvalidated() -> None:
    """No point on this GPU (or under this calibration): the run says unvalidated."""
    for calib, gpu in (("c", "NVIDIA L4"), ("other", "H100")):
        f = expected_error(calib, gpu, "dense<=10B", 1, "bf16", TABLE)
        assert f.status == "unvalidated" and f.mape_pct is None and "unvalidated" in f.summary()


def test_model_classes() -> None:
    """Size classes from the shipped configs."""
    assert model_class(load_model_spec("llama-3.1-8b-instruct")) == "dense<=10B"
    assert model_class(load_model_spec("codellama-34b-instruct-hf")) == "dense10-40B"
    assert model_class(load_model_spec("llama-2-70b-hf")) == "dense>40B"
    assert model_class(load_model_spec("mixtral-8x7b-v0.1")) == "moe"


def test_a_run_reports_its_fidelity_per_gpu_type_and_model() -> None:
    """stats.json's fidelity: H100 SXM is validated (INFSIM points), an L4 says unvalidated; one entry per kind."""
    from llmsim.cost.fidelity import run_fidelity

    gpus = [{"gpu_type": "nvidia_H100_SXM", "model": "llama-2-7b-hf", "tp": 1},
            {"gpu_type": "nvidia_L4", "model": "llama-2-7b-hf", "tp": 1},
            {"gpu_type": "nvidia_H100_SXM", "model": "llama-2-7b-hf", "tp": 1}]
    h100, l4 = run_fidelity(gpus, "default", None)
    assert h100["status"] == "validated" and h100["points"] > 0 and "INFSIM_TRAINING" in h100["sources"]
    assert h100["calibration"] == "vllm-v1-hopper" and h100["mape_pct"] is not None
    assert l4["status"] == "unvalidated" and "NVIDIA L4" in l4["note"] and l4["mape_pct"] is None


def test_a_2023_profile_run_cites_its_own_held_out_error() -> None:
    """No serving point under a 2023 profile: unvalidated, with the profile's own held-out error."""
    from llmsim.cost.fidelity import run_fidelity

    (entry,) = run_fidelity([{"gpu_type": "nvidia_A100", "model": "llama-3.1-8b-instruct", "tp": 1}], "vllm-2023", "fp16")
    assert entry["status"] == "unvalidated" and "held-out error" in entry["note"]
