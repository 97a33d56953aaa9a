"""Smoke test of scripts/bench_sinks.py on the bundled example (no timing assertions)."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_every_sink_is_fed_the_captured_events(capsys: pytest.CaptureFixture[str]) -> None:
    spec = importlib.util.spec_from_file_location("llmsim_bench_sinks", ROOT / "scripts" / "bench_sinks.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.main(["--input", str(ROOT / "llmsim" / "examples" / "trace.jsonl"), "--gpus", "2", "--repeat", "1"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"events of 200 requests: IterationRun", out)
    for name in ("trace (requests)", "trace (auto)", "trace (iterations)", "events.jsonl", "requests.jsonl", "stats"):
        assert re.search(rf"^{re.escape(name)} +\d+\.\d+ s +\d+\.\d µs per request$", out, re.M), name
