"""`llmsim events RUN summary`: counts equal the event log's."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from llmsim.cli import main
from llmsim.inspect import summarize
from llmsim.inspect.source import events_path

from .conftest import raw_events


def test_counts_equal_the_logs(any_run: Path) -> None:
    """Per kind, per node and per GPU counts, and the total, match a plain count of the lines."""
    events = raw_events(any_run)
    s = summarize(events_path(any_run))
    assert s.events == len(events)
    assert s.per_kind == dict(Counter(e["kind"] for e in events))
    assert s.per_node == {str(k): v for k, v in Counter(e["node"] for e in events if e.get("node") is not None).items()}
    assert s.per_gpu == dict(Counter(e["replica"] for e in events if e.get("replica") is not None))
    assert s.last_t_s == max(e["t_ns"] for e in events) / 1e9


def test_busiest_windows_are_the_fullest(example_run: Path) -> None:
    """The busiest windows hold the most events, in decreasing order."""
    events = raw_events(example_run)
    per_window = Counter(e["t_ns"] // 2_000_000_000 for e in events)
    s = summarize(events_path(example_run), window_s=2.0)
    counts = [w.events for w in s.busiest]
    assert counts == sorted(per_window.values(), reverse=True)[:len(counts)]
    top = s.busiest[0]
    assert per_window[int(top.start_s // 2)] == top.events


def test_cli_json(example_run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`summary --json` is one JSON document with the same counts."""
    assert main(["events", str(example_run), "summary", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["events"] == len(raw_events(example_run))
    assert doc["per_kind"]["request_completed"] == 200
