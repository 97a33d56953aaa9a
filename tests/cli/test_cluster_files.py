"""env.json and change files: unknown fields are errors naming them; a change can target a node (docs/cluster.md)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from llmsim.cli import main

ROOT = Path(__file__).resolve().parents[2]
ENV = ROOT / "llmsim" / "examples" / "env.json"
TRACE = ROOT / "llmsim" / "examples" / "trace.jsonl"


def error_line(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    assert main(["replay", "-q", "--no-outputs", "-i", str(TRACE), "--limit", "10", *args]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err
    return err


def test_misspelt_field_in_env_json_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    env = json.loads(ENV.read_text())
    env["nodes"][1]["interconect"] = "pcie"
    (tmp_path / "env.json").write_text(json.dumps(env))
    err = error_line(capsys, "-e", str(tmp_path / "env.json"))
    assert "env.json: nodes[1]" in err and "unknown field `interconect`" in err


def test_misspelt_field_in_a_change_file_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    changes = tmp_path / "changes.jsonl"
    changes.write_text('{"timestamp": 1, "gpu_name": "nvidia_A100", "amount": 1}\n'
                       '{"timestamp": 2, "gpu_name": "nvidia_A100", "amount": 1, "node_id": 2}\n')
    err = error_line(capsys, "-e", str(ENV), "--environment-change-file", str(changes))
    assert "changes.jsonl:2" in err and "unknown field `node_id`" in err


def test_a_change_naming_an_unknown_node_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    changes = tmp_path / "changes.jsonl"
    changes.write_text('{"timestamp": 1, "gpu_name": "nvidia_A100", "amount": 1, "node": 7}\n')
    err = error_line(capsys, "-e", str(ENV), "--environment-change-file", str(changes))
    assert "changes.jsonl:1: node: node 7 is not in the environment" in err


def test_a_change_lands_on_the_node_it_names(tmp_path: Path) -> None:
    changes = tmp_path / "changes.jsonl"
    changes.write_text('{"timestamp": 1, "gpu_name": "nvidia_H100", "amount": 2, "node": 1}\n'
                       '{"timestamp": 2, "gpu_name": "nvidia_A100", "amount": -1, "node": 1}\n'
                       '{"timestamp": 3, "gpu_name": "nvidia_H100", "amount": -1}\n')
    out = tmp_path / "out"
    assert main(["replay", "-q", "-o", str(out), "--environment-change-file", str(changes)]) == 0
    events = [json.loads(line) for line in (out / "events.jsonl").read_text().splitlines()]
    moved = [(e["gpu_type"], e["amount"], e["node"]) for e in events if e["kind"] == "environment_changed"]
    # Untargeted removals still take from the node of highest id holding the type (node 2 here).
    assert moved == [("nvidia_H100", 2, 1), ("nvidia_A100", -1, 1), ("nvidia_H100", -1, 2)]
    stats = json.loads((out / "stats.json").read_text())
    h100 = {g["replica"] for g in stats["nodes"]["1"]["gpus"] if g["gpu_type"] == "nvidia_H100"}
    assert len(h100) == 2
