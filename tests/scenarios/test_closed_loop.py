"""Closed-loop clients (--concurrency): N requests in flight, the next sent when one ends."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from llmsim.errors import UsageError
from llmsim.options import ReplayOptions
from llmsim.replay import run_replay


def _trace(tmp_path: Path, n: int) -> str:
    path = tmp_path / "trace.jsonl"
    lines = [json.dumps({"input_tokens": 64 + 32 * (i % 3), "output_tokens": 8 + 5 * (i % 4), "arrival_s": 0.001 * i})
             for i in range(n)]
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def _requests(tmp_path: Path, **kw: object) -> list[dict]:
    opts = ReplayOptions(input=_trace(tmp_path, 12), n_engines=1, hardware="nvidia_H100", model="llama-3.1-8b-instruct",
                         output_dir=str(tmp_path / "out"), quiet=True, **kw)  # type: ignore[arg-type]
    result = run_replay(opts)
    assert result.stats["requests"]["completed"] == 12
    rows = [json.loads(line) for line in (tmp_path / "out" / "requests.jsonl").read_text().splitlines()]
    return sorted(rows, key=lambda r: r["arrival_s"])


@pytest.mark.parametrize("clients", [1, 3])
def test_closed_loop_keeps_n_in_flight(tmp_path: Path, clients: int) -> None:
    """N requests start at 0; each later one is sent when another ends; never more than N in flight."""
    rows = _requests(tmp_path, concurrency=clients)
    assert [r["arrival_s"] for r in rows[:clients]] == [0.0] * clients
    finishes = sorted(r["finish_s"] for r in rows)
    for r in rows[clients:]:
        assert r["arrival_s"] in finishes  # sent at the instant a previous request finished
    for r in rows:
        in_flight = sum(1 for o in rows if o["arrival_s"] <= r["arrival_s"] < o["finish_s"])
        assert in_flight <= clients
    assert max(sum(1 for o in rows if o["arrival_s"] <= r["arrival_s"] < o["finish_s"]) for r in rows) == clients


def test_think_time_delays_the_next_request(tmp_path: Path) -> None:
    """With one client, each request is sent its think time after the previous one finished."""
    rows = _requests(tmp_path, concurrency=1, think_time_s=0.25)
    for prev, nxt in zip(rows, rows[1:]):
        assert nxt["arrival_s"] == pytest.approx(prev["finish_s"] + 0.25, abs=1e-9)


def test_closed_loop_refuses_an_arrival_rate(tmp_path: Path) -> None:
    """Open and closed loop exclude each other: one clear error, nothing run."""
    opts = ReplayOptions(input=_trace(tmp_path, 2), n_engines=1, concurrency=2, arrival_rate=3.0, write_outputs=False)
    with pytest.raises(UsageError, match="exclude each other"):
        run_replay(opts)
