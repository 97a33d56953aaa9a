"""Fixtures for the validation tests: a small serving-points CSV and a bad-CSV writer."""

from __future__ import annotations

from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def small_points() -> str:
    """Four rows: a static batch, a constant-rate stage (TTFT and E2E), a deliberately wrong point."""
    return str(FIXTURES / "points_small.csv")
