"""A tiny trace and sweep spec for the planning tests (each point simulates in a few milliseconds)."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

SPEC = """
[base]
input = "t.jsonl"
model = "llama-3.1-8b-instruct"
arrival_rate = 30
slo_ttft_s = 0.05
slo_tpot_s = 0.02

[axes]
hardware = ["nvidia_H100", "nvidia_A100_80G_SXM"]
n_engines = [1, 2]
routing_policy = ["round-robin", "least-loaded"]
"""


def write_trace(path: Path, n: int = 120, seed: int = 1) -> Path:
    rng = random.Random(seed)
    path.write_text("".join(f'{{"input_tokens": {rng.randint(20, 400)}, "output_tokens": {rng.randint(2, 60)}}}\n'
                            for _ in range(n)))
    return path


@pytest.fixture
def spec(tmp_path: Path) -> Path:
    write_trace(tmp_path / "t.jsonl")
    (tmp_path / "spec.toml").write_text(SPEC)
    return tmp_path / "spec.toml"
