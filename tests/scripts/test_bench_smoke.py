"""Smoke test of scripts/bench.py: its scenario machinery on a tiny size (no timing assertions)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _bench():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("llmsim_bench", ROOT / "scripts" / "bench.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_bench_runs_scenario_s_tiny_and_writes_json(tmp_path: Path) -> None:
    """Scenario S at 1% size runs with outputs on and off in child processes; the JSON has every field."""
    bench = _bench()
    if not bench.length_source("azure-code").exists():
        pytest.skip("shared Azure code trace not present")
    out = tmp_path / "results.json"
    rc = bench.main(["--scenarios", "S", "--scale", "0.01", "--calibration-requests", "50",
                     "--cache", str(tmp_path / "cache"), "--out", str(out), "--repeat", "2"])
    assert rc == 0
    doc = json.loads(out.read_text())
    assert doc["format_version"] == bench.FORMAT_VERSION
    assert doc["capacity"]["azure-code"]["per_gpu_req_per_s"] > 0
    rows = doc["results"]
    assert [(r["scenario"], r["outputs"]) for r in rows] == [("S", "on"), ("S", "off")]
    for r in rows:
        assert r["requests"] == 100 and r["gpus"] == 8
        assert r["completed"] == 100 and r["invariants_ok"]
        assert len(r["wall_s_runs"]) == 2 and r["wall_s"] == min(r["wall_s_runs"])  # --repeat keeps the fastest
        for key in ("wall_s", "cpu_s", "req_per_s", "events", "events_per_s", "peak_rss_bytes", "output_total_bytes"):
            assert r[key] > 0 or (key == "output_total_bytes" and r["outputs"] == "off"), key
    on, off = rows
    assert set(on["output_bytes"]) >= {"events.jsonl", "requests.jsonl", "stats.json", "trace.json"}
    assert off["output_bytes"] == {} and on["events"] == off["events"]


def test_generated_trace_is_deterministic_and_clipped_to_context(tmp_path: Path) -> None:
    """The same scenario parameters give the same trace file; prompt + output fit the context."""
    bench = _bench()
    if not bench.length_source("mooncake").exists():
        pytest.skip("shared Mooncake trace not present")
    a = bench.trace_file(tmp_path / "a", "mooncake", 200, 1.5, 3).read_bytes()
    b = bench.trace_file(tmp_path / "b", "mooncake", 200, 1.5, 3).read_bytes()
    assert a == b
    limit = bench.context_tokens()
    lines = [json.loads(x) for x in a.splitlines()[1:]]
    assert len(lines) == 200
    assert all(r["input_tokens"] + r["output_tokens"] <= limit for r in lines)


def test_scenario_selector_knows_groups() -> None:
    """--scenarios accepts names and groups, without duplicates; unknown names are refused."""
    bench = _bench()
    assert bench._names("S,grid")[:2] == ["S", "grid-10k-1"]
    assert "L" in bench._names("all") and "L" not in bench._names("default")
    try:
        bench._names("XL")
    except SystemExit as err:
        assert "unknown scenario" in str(err)
    else:
        raise AssertionError("unknown scenario accepted")


def test_bench_without_the_shared_traces_is_one_error_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    """Missing shared data: exit 2 and one line naming the file and LLMSIM_SHARED_DATA, before any work."""
    bench = _bench()
    monkeypatch.setattr(bench, "SHARED_DATA", tmp_path / "nowhere")
    assert bench.main(["--scenarios", "S", "--cache", str(tmp_path / "cache"), "--out", str(tmp_path / "r.json")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "AzureLLMInferenceTrace_code.csv" in err[0] and "LLMSIM_SHARED_DATA" in err[0]
    assert not (tmp_path / "r.json").exists()
