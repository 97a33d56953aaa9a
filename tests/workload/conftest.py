"""Shared fixtures for workload tests: the committed trace fixtures and the optional shared data."""

from __future__ import annotations

from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parent / "fixtures"
SHARED_TRACES = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "traces"


@pytest.fixture
def fixtures() -> Path:
    """The folder of small trace fixtures committed with the tests."""
    return FIXTURES


@pytest.fixture
def shared_traces() -> Path:
    """The shared reference traces next to the repository; skip when they are absent."""
    if not SHARED_TRACES.is_dir():
        pytest.skip("shared trace data not found next to the repository")
    return SHARED_TRACES
