"""SLO attainment and goodput: stats.json agrees with requests.jsonl; the summary shows them."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from llmsim.cli import main

from .conftest import replay


def _requests(run: Path) -> list[dict]:
    return [orjson.loads(line) for line in (run / "requests.jsonl").read_bytes().splitlines()]


@pytest.mark.parametrize("ttft, tpot", [(0.5, 0.05), (0.1, None), (None, 0.012)])
def test_attainment_and_goodput_match_the_request_log(tmp_path: Path, ttft: float | None, tpot: float | None) -> None:
    """A request meets the SLO when its TTFT and TPOT are within every given target; failures never do."""
    parts = [f"ttft={ttft}"] if ttft is not None else []
    parts += [f"tpot={tpot}"] if tpot is not None else []
    run = replay(tmp_path, "--limit", "120", "--slo", ",".join(parts))
    stats = orjson.loads((run / "stats.json").read_bytes())
    met = 0
    rows = _requests(run)
    for r in rows:
        if r["outcome"] != "completed":
            continue
        r_ttft = r["first_token_s"] - r["arrival_s"]
        r_tpot = (r["finish_s"] - r["first_token_s"]) / (r["output_tokens"] - 1) if r["output_tokens"] > 1 else 0.0
        ok = (ttft is None or r_ttft <= ttft + 1e-9) and (tpot is None or r_tpot <= tpot + 1e-9)
        met += ok
    slo = stats["slo"]
    assert (slo["ttft_s"], slo["tpot_s"]) == (ttft, tpot)
    assert slo["met"] == met and 0 < met < len(rows)  # the targets split this run: the check can fail
    assert slo["attainment"] == pytest.approx(met / len(rows))
    assert stats["throughput"]["goodput_requests_per_s"] == pytest.approx(met / stats["simulation"]["simulated_s"])


def test_summary_prints_the_slo_only_when_given(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["replay", "-q", "-o", str(tmp_path / "a"), "--limit", "40", "--slo", "ttft=0.5,tpot=0.05"]) == 0
    with_slo = capsys.readouterr().out
    line = [ln for ln in with_slo.splitlines() if ln.startswith("SLO ")]
    assert len(line) == 1 and "TTFT <= 500 ms" in line[0] and "TPOT <= 50 ms" in line[0] and "goodput" in line[0]
    assert main(["replay", "-q", "-o", str(tmp_path / "b"), "--limit", "40"]) == 0
    assert not [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("SLO ")]


def test_a_bad_slo_is_one_error_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for bad in ("ttft=fast", "latency=1", "ttft=-1"):
        assert main(["replay", "-q", "-o", str(tmp_path), "--slo", bad]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "--slo" in err[0] and "Traceback" not in err[0]
