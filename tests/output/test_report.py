"""`llmsim report`: the plots and summary.md of a run; a clear message without matplotlib."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from llmsim.cli import main

PLOTS = ("latency_cdf.png", "latency_over_time.png", "throughput.png", "queue_depth.png", "kv_use.png",
         "batch_size.png")


def _image(path: Path) -> Any:
    """The PNG as an array of RGB(A) values (matplotlib reads it back)."""
    import matplotlib.image

    return matplotlib.image.imread(str(path))


def test_report_writes_plots_and_summary(example_run: Path, tmp_path: Path) -> None:
    """Six PNGs with something drawn on them and a summary that links them, says what ran and counts the requests."""
    pytest.importorskip("matplotlib")
    assert main(["report", str(example_run), "-o", str(tmp_path)]) == 0
    for name in PLOTS:
        data = (tmp_path / name).read_bytes()
        assert data.startswith(b"\x89PNG") and len(data) > 10_000
        pixels = _image(tmp_path / name)
        assert pixels.shape[0] > 300 and pixels.shape[1] > 800
        assert len(np.unique(pixels.reshape(-1, pixels.shape[-1]), axis=0)) > 50  # not a blank canvas
    summary = (tmp_path / "summary.md").read_text()
    assert "200 completed" in summary and all(f"({name})" in summary for name in PLOTS)
    assert "## Configuration" in summary and "- ran: llama-3.1-8b-instruct" in summary
    assert "4 x nvidia_A100 (NVIDIA A100 40GB PCIe; 80 GB per GPU from env.json)" in summary
    assert "SLO: no targets given" in summary


def test_report_counts_slo_attainment_and_marks_changes(tmp_path: Path) -> None:
    """With the replay's SLO targets: the same attainment and goodput as stats.json; environment changes
    listed; a removed replica's row says when."""
    pytest.importorskip("matplotlib")
    changes = tmp_path / "changes.jsonl"
    changes.write_text('{"timestamp": 2.0, "gpu_name": "nvidia_A100", "amount": -1}\n')
    run = tmp_path / "run"
    assert main(["replay", "-q", "-o", str(run), "--warm-start", "--arrival-rate", "10", "--slo", "ttft=0.2,tpot=0.02",
                 "--environment-change-file", str(changes)]) == 0
    stats = json.loads((run / "stats.json").read_text())
    assert main(["report", str(run)]) == 0
    summary = (run / "report" / "summary.md").read_text()
    slo = stats["slo"]
    assert f"**{slo['attainment']:.1%}** of requests met it ({slo['met']} of {stats['requests']['total']}" in summary
    assert f"goodput: **{slo['goodput_requests_per_s']:.2f} requests/s**" in summary
    assert "environment change at 2.00 s: -1 nvidia_A100 on node 1" in summary
    removed = [line for line in summary.splitlines() if line.startswith("| n1/") and not line.endswith("| - |")]
    assert len(removed) == 1 and "2.00 s" in removed[0]
    # A report may use other targets than the replay's.
    assert main(["report", str(run), "-o", str(tmp_path / "other"), "--slo", "ttft=100"]) == 0
    assert "SLO TTFT <= 100000 ms: **100.0%**" in (tmp_path / "other" / "summary.md").read_text()


def test_report_without_matplotlib_says_so(example_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    """Missing optional extra: one line naming it, exit status 2, nothing written."""
    monkeypatch.setattr("llmsim.report.plots.matplotlib_available", lambda: False)
    assert main(["report", str(example_run), "-o", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "matplotlib" in err[0] and "llmsim[plot]" in err[0]
    assert not (tmp_path / "r").exists()
