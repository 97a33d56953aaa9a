"""`llmsim cost`, `llmsim roofline` and `llmsim calibrate` end to end (no network, no shared data)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from llmsim.cli import main


def test_cost_json(capsys: pytest.CaptureFixture[str]) -> None:
    """--json prints one object with prefill_s, decode_step_s and a breakdown."""
    assert main(["cost", "--model", "meta-llama/Meta-Llama-3-8B-Instruct", "--hardware", "nvidia_H100",
                 "--batch", "4", "--input-len", "256", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["prefill_s"] > 0 and data["decode_step_s"] > 0
    assert "qkv_proj" in data["breakdown"]["prefill_s"]


def test_cost_moves_with_hardware_and_dtype(capsys: pytest.CaptureFixture[str]) -> None:
    """Different GPUs and dtypes give different times."""
    results = []
    for hw, dtype in (("nvidia_A100", "fp16"), ("nvidia_H100", "fp16"), ("nvidia_H100", "fp8")):
        main(["cost", "--model", "llama-2-7b-hf", "--hardware", hw, "--dtype", dtype, "--json"])
        results.append(json.loads(capsys.readouterr().out)["decode_step_s"])
    assert len(set(results)) == 3


def test_cost_text_and_bad_input(capsys: pytest.CaptureFixture[str]) -> None:
    """Text output works; bad flags exit 2 with one line."""
    assert main(["cost", "--model", "llama-2-7b-hf", "--hardware", "nvidia_A100", "--tp", "2"]) == 0
    assert "prefill" in capsys.readouterr().out
    assert main(["cost", "--model", "llama-2-7b-hf", "--hardware", "nvidia_A100", "--batch", "0"]) == 2
    assert main(["cost", "--model", "llama-2-7b-hf", "--hardware", "nope"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 2 and "nvidia_A100" in err


def test_roofline_seed_form(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """The seed's --matrix-dims/--input-sizes form prints a GEMM table; --output needs matplotlib."""
    out = tmp_path / "roofline.png"
    code = main(["roofline", "--hardware", "nvidia_A100", "--matrix-dims", "1024", "2048",
                 "--input-sizes", "1", "64", "--output", str(out)])
    text = capsys.readouterr()
    assert "gemm 64x2048x2048" in text.out
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        assert code == 2 and "pip install" in text.err
    else:
        assert code == 0 and out.stat().st_size > 0


def test_roofline_model_table(capsys: pytest.CaptureFixture[str]) -> None:
    """The model form lists prefill and decode operators with their bound."""
    assert main(["roofline", "--model", "mixtral-8x7b-v0.1", "--hardware", "nvidia_H100", "--tp", "2"]) == 0
    out = capsys.readouterr().out
    assert "prefill:moe_up_proj" in out and "decode:attn_decode" in out and "memory" in out


def test_calibrate_rejects_missing_data(tmp_path: Path) -> None:
    """calibrate on a folder without profiles/ and measured/ is a one-line error."""
    assert main(["calibrate", "--data", str(tmp_path)]) == 2
