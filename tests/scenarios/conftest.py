"""Helpers for whole-run scenario tests: paths to examples and shared data, trace writers."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "llmsim" / "examples"
SHARED = ROOT / ".." / "shared" / "data"


@pytest.fixture
def seed_dir() -> Path:
    """The seed's own input files (copied unchanged into examples/seed)."""
    return EXAMPLES / "seed"


def write_trace(path: Path, n: int, seed: int = 0, rate: float = 20.0, in_range=(50, 2000), out_range=(10, 400),
                model: str | None = None) -> Path:
    """A canonical trace with random lengths and Poisson arrivals."""
    rng = np.random.default_rng(seed)
    t = np.cumsum(rng.exponential(1 / rate, n))
    with open(path, "w") as fh:
        for i in range(n):
            rec = {"arrival_s": float(t[i]), "input_tokens": int(rng.integers(*in_range)),
                   "output_tokens": int(rng.integers(*out_range)), "id": f"q{i}"}
            if model:
                rec["model"] = model
            fh.write(json.dumps(rec) + "\n")
    return path
