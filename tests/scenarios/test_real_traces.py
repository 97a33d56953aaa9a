"""Real traces replayed with their own timestamps (skipped when the shared data is absent)."""

from __future__ import annotations

import csv
from datetime import datetime
from pathlib import Path

import pytest

from llmsim.options import ReplayOptions
from llmsim.replay import run_replay

from .conftest import SHARED

AZURE_CODE = SHARED / "traces" / "AzureLLMInferenceTrace_code.csv"


def azure_span_s() -> tuple[int, float]:
    """Request count and first-to-last arrival span, computed independently from the CSV."""
    with open(AZURE_CODE) as fh:
        rows = list(csv.DictReader(fh))
    parse = lambda s: datetime.strptime(s[:26], "%Y-%m-%d %H:%M:%S.%f")  # noqa: E731
    return len(rows), (parse(rows[-1]["TIMESTAMP"]) - parse(rows[0]["TIMESTAMP"])).total_seconds()


@pytest.mark.skipif(not AZURE_CODE.exists(), reason="shared Azure trace not present")
@pytest.mark.parametrize("scale", [1.0, 2.0])
def test_azure_code_trace_keeps_its_arrivals(tmp_path: Path, scale: float) -> None:
    """All 8,819 requests arrive at the trace's own (rebased) times; --time-scale 2 halves the span."""
    count, span_s = azure_span_s()
    opts = ReplayOptions(input=str(AZURE_CODE), n_engines=16, hardware="nvidia_H100_SXM",
                         model="llama-3.1-8b-instruct", time_scale=scale, write_outputs=False, quiet=True,
                         output_dir=str(tmp_path))
    stats = run_replay(opts).stats
    assert stats["requests"]["total"] == count == 8819
    assert stats["requests"]["completed"] + stats["requests"]["failed"] == count
    assert stats["arrivals"]["first_s"] == 0.0
    assert stats["arrivals"]["span_s"] == pytest.approx(span_s / scale, abs=1e-5)
