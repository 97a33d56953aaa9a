"""Shared fixtures: real replays (the bundled example, and a KV-starved GPU that preempts) run once."""

from __future__ import annotations

import os
from pathlib import Path

import orjson
import pytest

from llmsim.cli import main

os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")


def replay(out_dir: Path, *extra: str) -> Path:
    """Run `llmsim replay` into out_dir and return it."""
    rc = main(["replay", "-q", "-o", str(out_dir), *extra])
    assert rc == 0, f"replay failed with {rc}"
    return out_dir


@pytest.fixture(scope="session")
def example_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled example with iteration-level trace detail."""
    return replay(tmp_path_factory.mktemp("example"), "--trace-detail", "iterations")


@pytest.fixture(scope="session")
def preempt_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One GPU with little KV memory at 8 requests/s: dozens of preemptions."""
    return replay(tmp_path_factory.mktemp("preempt"), "--n-engines", "1", "--model", "llama-3.1-8b-instruct",
                  "--gpu-memory-utilization", "0.5", "--arrival-rate", "8", "--trace-detail", "iterations")


@pytest.fixture(scope="session", params=["example", "preempt"])
def any_run(request: pytest.FixtureRequest) -> Path:
    """Each of the replays above."""
    return request.getfixturevalue(f"{request.param}_run")


def raw_events(run: Path) -> list[dict]:  # type: ignore[type-arg]
    """Every line of a run's events.jsonl as a dict (tests only: small logs)."""
    return [orjson.loads(line) for line in (run / "events.jsonl").read_bytes().splitlines() if line.strip()]
