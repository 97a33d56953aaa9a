"""`llmsim events RUN filter`: exactly the matching events, in log order, as table or JSON lines."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from llmsim.cli import main
from llmsim.inspect import EventFilter, filter_events
from llmsim.inspect.source import events_path

from .conftest import raw_events


def _ids(run: Path) -> list[str]:
    return sorted({e["request_id"] for e in raw_events(run) if "request_id" in e})


def _filtered(run: Path, **conditions: object) -> list[dict]:  # type: ignore[type-arg]
    path = events_path(run)
    return [msgspec.to_builtins(e) for e in filter_events(path, EventFilter(**conditions))]  # type: ignore[arg-type]


def test_filter_by_request_returns_exactly_that_requests_events(any_run: Path) -> None:
    """For every request: the events naming it, all of them, nothing else, in order."""
    events = raw_events(any_run)
    for rid in _ids(any_run):
        expected = [e for e in events if e.get("request_id") == rid]
        assert _filtered(any_run, request=rid) == expected


def test_request_ids_that_are_prefixes_do_not_leak(example_run: Path) -> None:
    """`azure-conv-0001` must not match `azure-conv-00010` style ids (the raw-line fast path)."""
    got = _filtered(example_run, request="azure-conv-001")
    assert got == []


@pytest.mark.parametrize("conditions", [
    {"node": 1}, {"gpu": "n1/g2"}, {"kinds": ("first_token", "request_preempted")},
    {"since_s": 20.0, "until_s": 30.0}, {"gpu": "n1/g0", "kinds": ("iteration_run",), "since_s": 50.0},
])
def test_filter_conditions_match_a_brute_force_scan(example_run: Path, conditions: dict) -> None:  # type: ignore[type-arg]
    """Node, GPU, kind and time-window conditions agree with a plain scan of the log."""
    def keep(e: dict) -> bool:  # type: ignore[type-arg]
        t_s = e["t_ns"] / 1e9
        return ((conditions.get("node") is None or e.get("node") == conditions["node"])
                and (conditions.get("gpu") is None or e.get("replica") == conditions["gpu"])
                and (not conditions.get("kinds") or e["kind"] in conditions["kinds"])
                and (conditions.get("since_s") is None or t_s >= conditions["since_s"])
                and (conditions.get("until_s") is None or t_s <= conditions["until_s"]))

    expected = [e for e in raw_events(example_run) if keep(e)]
    assert expected
    assert _filtered(example_run, **conditions) == expected


def test_cli_json_prints_the_log_lines_of_the_request(example_run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`--json` output is byte-identical to the request's lines in events.jsonl."""
    lines = (example_run / "events.jsonl").read_bytes().splitlines()
    expected = [ln for ln in lines if b'"request_id":"azure-conv-0042"' in ln]
    assert main(["events", str(example_run), "filter", "--request", "azure-conv-0042", "--json"]) == 0
    assert capsys.readouterr().out.encode().splitlines() == expected


def test_cli_table_has_one_row_per_event(example_run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The table: a header, then one row per matching event."""
    n = len([e for e in raw_events(example_run) if e.get("request_id") == "azure-conv-0042"])
    assert main(["events", str(example_run / "events.jsonl"), "filter", "--request", "azure-conv-0042"]) == 0
    rows = capsys.readouterr().out.splitlines()
    assert rows[0].split()[:5] == ["t_s", "kind", "request", "node", "gpu"]
    assert len(rows) == n + 1


def test_cli_rejects_unknown_kinds_and_missing_runs(tmp_path: Path, example_run: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    """Bad input: one line on stderr, exit status 2."""
    assert main(["events", str(example_run), "filter", "--kind", "no_such_kind"]) == 2
    assert main(["events", str(tmp_path), "summary"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and all(line.startswith("llmsim: error:") for line in err)
