"""Every request in is a request out: skipped, failed with a reason, completed, or unfinished."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path
from typing import Any

import pytest

from llmsim.errors import TraceError
from llmsim.interrupt import StopOnSignal, exit_status
from llmsim.options import ReplayOptions
from llmsim.preflight import MAX_TOKENS_PER_REQUEST, first_non_utf8_line
from llmsim.replay import check_invariants, run_replay

OK = {"input_tokens": 100, "output_tokens": 20}
ENV = {"nodes": [{"node_id": 1, "gpu_types": ["nvidia_A100"], "gpu_count_per_type": [1]}]}


def write(tmp_path: Path, records: list[dict[str, Any]]) -> ReplayOptions:
    """Options replaying `records` (canonical JSONL) on one A100, outputs under tmp_path/out."""
    (tmp_path / "trace.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    (tmp_path / "env.json").write_text(json.dumps(ENV))
    return ReplayOptions(input=str(tmp_path / "trace.jsonl"), environment=str(tmp_path / "env.json"),
                         output_dir=str(tmp_path / "out"), quiet=True, default_model="llama-3.1-8b-instruct")


def test_bad_requests_are_counted_not_dropped(tmp_path: Path) -> None:
    """Without --strict: bad token counts are skipped, unknown and oversized models fail with a reason."""
    opts = write(tmp_path, [
        OK, {"input_tokens": 0, "output_tokens": 5}, {"input_tokens": -4, "output_tokens": 5},
        {"input_tokens": MAX_TOKENS_PER_REQUEST + 1, "output_tokens": 5},
        {**OK, "model": "no/such-model"}, {**OK, "model": "llama-2-70b-hf"}, OK,
    ])
    result = run_replay(opts)
    r = result.stats["requests"]
    assert result.invariants == []
    assert (r["read"], r["skipped_invalid"], r["total"]) == (7, 3, 4)
    assert r["completed"] == 2 and r["failed_by_reason"] == {"model_does_not_fit": 1, "unknown_model": 1}
    assert r["unfinished"] == 0 and result.stats["complete"] is True
    reasons = [json.loads(line).get("reason") for line in open(tmp_path / "out" / "events.jsonl")]
    assert reasons.count("absurd_tokens") == 1 and reasons.count("non_positive_tokens") == 2


def test_strict_prepass_refuses_before_any_output(tmp_path: Path) -> None:
    """--strict reads the whole trace before the run: a bad line late in it stops the run from starting."""
    opts = write(tmp_path, [OK] * 50 + [{"input_tokens": 0, "output_tokens": 5}])
    opts.strict = True
    with pytest.raises(TraceError) as info:
        run_replay(opts)
    assert info.value.line == 51 and info.value.field == "input_tokens"
    assert not (tmp_path / "out").exists()


def test_check_invariants_reports_lost_requests(tmp_path: Path) -> None:
    """A request that entered but neither completed nor failed is a violation in a complete run."""
    result = run_replay(write(tmp_path, [OK, OK]))
    stats = json.loads(json.dumps(result.stats))
    stats["requests"]["completed"] -= 1
    stats["requests"]["unfinished"] = 1

    from actors.global_engine import RunTally
    from llmsim.output.stats import StatsCollector

    tally = RunTally(read=2, entered=2, finished=2, completed=2, failed=0, exhausted=True, now_ns=0)
    problems = check_invariants(stats, tally, StatsCollector())
    assert any("never finished" in p for p in problems)
    assert any("engine counted 2 completed" in p for p in problems)


def test_signal_in_process_gives_incomplete_stats(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A SIGINT when the request arriving at 5 s is delivered stops the run there; stats say incomplete."""
    import llmsim.replay as replay_module
    from llmsim.kernel import Simulation
    from llmsim.output.events import RequestArrived

    sent: list[bool] = []

    def signal_at_5s(event: object) -> None:
        if not sent and isinstance(event, RequestArrived) and event.t_ns >= 5_000_000_000:
            sent.append(True)
            os.kill(os.getpid(), signal.SIGINT)

    def signalling_simulation(seed: int, sinks: list[object]) -> Simulation:
        return Simulation(seed=seed, sinks=[*sinks, signal_at_5s])  # type: ignore[list-item]

    monkeypatch.setattr(replay_module, "Simulation", signalling_simulation)
    opts = write(tmp_path, [{**OK, "arrival_s": i * 0.5} for i in range(400)])
    result = run_replay(opts)
    stats = json.loads((tmp_path / "out" / "stats.json").read_bytes())
    assert result.signal == signal.SIGINT and exit_status(result.signal) == 130
    assert stats["complete"] is False and stats["interrupted"]["reached_s"] == pytest.approx(5.0)
    assert stats["requests"]["total"] == 11 and stats["invariants"]["ok"]
    json.loads((tmp_path / "out" / "trace.json").read_bytes())


def test_stop_on_signal_restores_handlers() -> None:
    """The handler calls stop once, and the previous handlers come back afterwards."""
    before = signal.getsignal(signal.SIGTERM)
    calls: list[int] = []
    with StopOnSignal(lambda: calls.append(1)) as guard:
        os.kill(os.getpid(), signal.SIGTERM)
    assert calls == [1] and guard.signum == signal.SIGTERM
    assert signal.getsignal(signal.SIGTERM) is before


def test_first_non_utf8_line(tmp_path: Path) -> None:
    """The exact line of the first invalid byte, found by streaming."""
    path = tmp_path / "t.jsonl"
    path.write_bytes(b"ok\n\xc3\xa9 fine\nbad \xff\n")
    assert first_non_utf8_line(str(path)) == 3
