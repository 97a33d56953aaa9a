"""The API server's time per request (calibration frontend_overhead_s): paid online, not --offline."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from llmsim.cost.calibration import CalibrationProfile, register_profile
from llmsim.options import ReplayOptions
from llmsim.replay import run_replay

OVERHEAD_S = 0.0075


def _rows(tmp_path: Path, name: str, **kw: object) -> list[dict]:
    trace = tmp_path / "trace.jsonl"
    trace.write_text("\n".join(json.dumps({"input_tokens": 300, "output_tokens": 20, "arrival_s": 2.0 * i})
                               for i in range(3)) + "\n")
    register_profile(CalibrationProfile(name="test-frontend", compute_efficiency=0.7, memory_efficiency=0.8,
                                        frontend_overhead_s=OVERHEAD_S))
    out = tmp_path / name
    run_replay(ReplayOptions(input=str(trace), n_engines=1, hardware="nvidia_H100", model="llama-3.1-8b-instruct",
                             calibration="test-frontend", output_dir=str(out), quiet=True, **kw))  # type: ignore[arg-type]
    return [json.loads(line) for line in (out / "requests.jsonl").read_text().splitlines()]


def test_online_requests_pay_the_frontend_overhead_once(tmp_path: Path) -> None:
    """Lone requests: TTFT and E2E grow by exactly the overhead; the engine's own timeline shifts by it."""
    online, offline = _rows(tmp_path, "online"), _rows(tmp_path, "offline", offline=True)
    assert len(online) == len(offline) == 3
    for on, off in zip(online, offline):
        assert on["arrival_s"] == off["arrival_s"]
        for field in ("scheduled_s", "first_token_s", "finish_s"):
            assert on[field] == pytest.approx(off[field] + OVERHEAD_S, abs=1e-9)


def test_shipped_modern_families_carry_a_frontend_overhead() -> None:
    """vllm-v1 / vllm-v0 are fitted with it (a few ms); the 2023 profiles and the pure roofline have none."""
    from llmsim.cost.calibration import get_profile

    for family in ("vllm-v1", "vllm-v0"):
        assert 0.0 < get_profile(family, "nvidia_H100").frontend_overhead_s < 0.03
    assert get_profile("vllm-2023", "nvidia_H100").frontend_overhead_s == 0.0
    assert get_profile("none", "nvidia_H100").frontend_overhead_s == 0.0
