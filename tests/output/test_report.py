"""`llmsim report`: the plots and summary.md of a run; a clear message without matplotlib."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmsim.cli import main

PLOTS = ("latency_cdf.png", "throughput.png", "queue_depth.png", "kv_use.png", "batch_size.png")


def test_report_writes_plots_and_summary(example_run: Path, tmp_path: Path) -> None:
    """Five non-empty PNGs and a summary that links them and counts the requests."""
    pytest.importorskip("matplotlib")
    assert main(["report", str(example_run), "-o", str(tmp_path)]) == 0
    for name in PLOTS:
        data = (tmp_path / name).read_bytes()
        assert data.startswith(b"\x89PNG") and len(data) > 10_000
    summary = (tmp_path / "summary.md").read_text()
    assert "200 completed" in summary and all(f"({name})" in summary for name in PLOTS)


def test_report_without_matplotlib_says_so(example_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    """Missing optional extra: one line naming it, exit status 2, nothing written."""
    monkeypatch.setattr("llmsim.report.plots.matplotlib_available", lambda: False)
    assert main(["report", str(example_run), "-o", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "matplotlib" in err[0] and "llmsim[plot]" in err[0]
    assert not (tmp_path / "r").exists()
