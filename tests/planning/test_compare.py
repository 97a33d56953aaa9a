"""llmsim compare: two runs side by side, % differences against the first, what differed, CDF plot."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from llmsim.cli import main
from tests.planning.conftest import write_trace


@pytest.fixture
def two_runs(tmp_path: Path) -> tuple[Path, Path]:
    trace = write_trace(tmp_path / "t.jsonl", n=60)
    common = ["replay", "--input", str(trace), "--model", "llama-3.1-8b-instruct", "--arrival-rate", "40", "-q",
              "--trace-detail", "off"]
    assert main([*common, "--n-engines", "1", "-o", str(tmp_path / "a")]) == 0
    assert main([*common, "--n-engines", "2", "-o", str(tmp_path / "b")]) == 0
    return tmp_path / "a", tmp_path / "b"


def test_compare_json(two_runs: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    a, b = two_runs
    capsys.readouterr()
    assert main(["compare", str(a), str(b / "stats.json"), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    rows = {r["name"]: r for r in doc["statistics"]}
    sa, sb = (json.loads((p / "stats.json").read_text()) for p in (a, b))
    ttft = rows["TTFT p99"]
    assert ttft["values"] == [sa["latency"]["ttft_s"]["p99"], sb["latency"]["ttft_s"]["p99"]]
    assert ttft["change_pct"][0] == pytest.approx((ttft["values"][1] - ttft["values"][0]) / ttft["values"][0] * 100)
    assert rows["GPUs"]["values"] == [1, 2]
    assert [d["name"] for d in doc["differences"]] == ["n_engines"]


def test_compare_text_and_plot(two_runs: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("matplotlib")  # the plot extra; CI installs it
    a, b = two_runs
    capsys.readouterr()
    assert main(["compare", str(a), str(b), "--plot", str(tmp_path / "cdf.png")]) == 0
    out = capsys.readouterr().out
    assert "[1] vs [0]" in out and "n_engines: 1 | 2" in out
    assert (tmp_path / "cdf.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_compare_bad_run_is_one_line(two_runs: tuple[Path, Path], tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    a, _ = two_runs
    assert main(["compare", str(a), str(tmp_path / "nope")]) == 2
    assert main(["compare", str(a)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 2 and "not a run" in err
