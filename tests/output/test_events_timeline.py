"""`llmsim events RUN timeline`: phases that add up to each request's end-to-end latency."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from llmsim.cli import main
from llmsim.inspect import build_timeline
from llmsim.inspect.source import events_path

from .conftest import raw_events


def _completed(run: Path) -> list[dict]:  # type: ignore[type-arg]
    return [e for e in raw_events(run) if e["kind"] == "request_completed"]


def test_phase_durations_add_up_to_end_to_end_latency(any_run: Path) -> None:
    """For every completed request: queued + prefilling + decoding + preempted == e2e, phases contiguous."""
    path = events_path(any_run)
    for done in _completed(any_run):
        tl = build_timeline(path, done["request_id"])
        e2e_ns = done["t_ns"] - done["arrival_ns"]
        assert tl.outcome == "completed"
        assert tl.e2e_ns == e2e_ns
        assert sum(tl.totals_ns().values()) == e2e_ns
        assert tl.phases[0].start_ns == done["arrival_ns"]
        for a, b in zip(tl.phases, tl.phases[1:]):
            assert a.end_ns == b.start_ns and a.duration_ns >= 0


def test_preempted_requests_show_preempted_time(preempt_run: Path) -> None:
    """A request that was preempted spends time in the `preempted` category."""
    preempted = {e["request_id"] for e in raw_events(preempt_run) if e["kind"] == "request_preempted"}
    assert preempted
    rid = sorted(preempted)[0]
    tl = build_timeline(events_path(preempt_run), rid)
    assert tl.totals_ns()["preempted"] > 0


def test_queued_time_matches_the_completion_record(example_run: Path) -> None:
    """Time before the first scheduling equals scheduled_ns - arrival_ns of the completion event."""
    for done in _completed(example_run)[:40]:
        tl = build_timeline(events_path(example_run), done["request_id"])
        assert tl.totals_ns()["queued"] == done["scheduled_ns"] - done["arrival_ns"]
        assert tl.totals_ns()["prefilling"] == done["first_token_ns"] - done["scheduled_ns"]


def test_cli_text_and_json(example_run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The table names the GPU and ends with the end-to-end latency; --json is one document."""
    assert main(["events", str(example_run), "timeline", "--request", "azure-conv-0003"]) == 0
    out = capsys.readouterr().out
    assert "decoding" in out and "n1/g" in out and out.strip().splitlines()[-1].startswith("end-to-end:")
    assert main(["events", str(example_run), "timeline", "--request", "azure-conv-0003", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["e2e_s"] == pytest.approx(sum(doc["totals_s"].values()))


def test_unknown_request_is_a_one_line_error(example_run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A request id absent from the log: exit 2 and a message naming it."""
    assert main(["events", str(example_run), "timeline", "--request", "nope"]) == 2
    assert "'nope'" in capsys.readouterr().err
