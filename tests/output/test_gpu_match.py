"""`llmsim events RUN filter --gpu`: a replica's name, or one GPU of a tensor-parallel group."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from llmsim.cli import main
from llmsim.inspect.filter import replica_holds


def test_replica_holds_its_gpus() -> None:
    assert replica_holds("n1/g0-3", "n1/g0") and replica_holds("n1/g0-3", "n1/g3")
    assert replica_holds("n1/g0-3", "n1/g0-3") and replica_holds("n2/g1", "n2/g1")
    assert not replica_holds("n1/g0-3", "n1/g4") and not replica_holds("n1/g0-3", "n2/g0")
    assert not replica_holds("n1/g4-7", "n1/g0") and not replica_holds("n1/g0", "n1/g0-3")
    assert not replica_holds(None, "n1/g0") and not replica_holds("n1/g10", "n1/g1")


def test_filter_by_one_gpu_of_a_tp_group(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "run"
    assert main(["replay", "-q", "-o", str(run), "--n-engines", "1", "--tp", "4", "--model", "llama-3.1-8b-instruct", "--limit", "5"]) == 0
    capsys.readouterr()
    assert main(["events", str(run), "filter", "--gpu", "n1/g2", "--kind", "request_completed", "--json"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.strip()]
    assert len(lines) == 5 and {e["replica"] for e in lines} == {"n1/g0-3"}
