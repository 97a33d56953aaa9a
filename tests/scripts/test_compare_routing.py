"""scripts/compare_routing.py runs on the user's own trace and cluster."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _module() -> Any:
    spec = importlib.util.spec_from_file_location("compare_routing", ROOT / "scripts" / "compare_routing.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_compares_policies_on_the_users_trace(monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    examples = ROOT / "llmsim" / "examples"
    monkeypatch.setattr(sys, "argv", ["compare_routing.py", "--input", str(examples / "trace.jsonl"), "--rate", "10",
                                      "--limit", "40", "--environment", str(examples / "env.json"),
                                      "--policies", "least-loaded,random"])
    assert _module().main() == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("trace.jsonl at 10.0/s, first 40 on env.json")
    assert [line.split()[0] for line in out[2:]] == ["least-loaded", "random"]


def test_unknown_policy_is_one_line(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(sys, "argv", ["compare_routing.py", "--policies", "fastest"])
    assert _module().main() == 2
    assert "unknown policy 'fastest'" in capsys.readouterr().err
