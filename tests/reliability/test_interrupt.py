"""SIGINT/SIGTERM during a long replay: whole-line outputs, valid trace.json, incomplete stats, 130/143."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from llmsim.errors import EXIT_SIGINT, EXIT_SIGTERM

N_REQUESTS = 200_000


def write_long_trace(path: Path, n: int = N_REQUESTS) -> None:
    """A canonical trace of `n` timed requests, 100 per second: minutes of simulated time."""
    with path.open("w") as f:
        f.write('{"llmsim_trace_version": 1}\n')
        for i in range(n):
            f.write(f'{{"arrival_s": {i * 0.01:.2f}, "input_tokens": {200 + i % 500}, "output_tokens": {50 + i % 200}}}\n')


def wait_for_output(path: Path, proc: subprocess.Popen[bytes], timeout_s: float = 90.0) -> None:
    """Wait until the run has written something to the temporary file behind `path` (so it is simulating)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        temps = list(path.parent.glob(f".{path.name}.*.llmsim-tmp")) if path.parent.exists() else []
        if any(t.stat().st_size > 0 for t in temps if t.exists()):
            assert not path.exists(), "an output appeared under its final name before the run ended"
            return
        assert proc.poll() is None, "the replay ended before it could be interrupted"
        time.sleep(0.05)
    raise AssertionError("the replay wrote nothing in time")


def check_jsonl(path: Path) -> int:
    """Every line parses as JSON and the file ends with a newline; return the line count."""
    data = path.read_bytes()
    assert data == b"" or data.endswith(b"\n"), f"{path.name} ends mid-line"
    lines = data.splitlines()
    for line in lines:
        json.loads(line)
    return len(lines)


@pytest.mark.parametrize(("sig", "status"), [(signal.SIGINT, EXIT_SIGINT), (signal.SIGTERM, EXIT_SIGTERM)])
def test_signal_stops_a_long_replay_cleanly(tmp_path: Path, sig: signal.Signals, status: int) -> None:
    """Every output parses; stats.json is incomplete with the time reached and unfinished requests."""
    trace, out = tmp_path / "long.jsonl", tmp_path / "out"
    write_long_trace(trace)
    env = {**os.environ, "TRANSFORMERS_NO_ADVISORY_WARNINGS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "llmsim", "replay", "-q", "-i", str(trace), "--n-engines", "2",
                             "--default-model", "llama-3.1-8b-instruct", "-o", str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    try:
        wait_for_output(out / "events.jsonl", proc)
        time.sleep(0.5)
        proc.send_signal(sig)
        _, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == status, stderr.decode()
    assert b"Traceback" not in stderr
    stats = json.loads((out / "stats.json").read_bytes())
    json.loads((out / "trace.json").read_bytes())
    check_jsonl(out / "events.jsonl")
    finished = check_jsonl(out / "requests.jsonl")
    r = stats["requests"]
    assert stats["complete"] is False
    assert stats["interrupted"]["signal"] == sig.name
    assert stats["interrupted"]["reached_s"] > 0
    assert stats["simulation"]["simulated_s"] == stats["interrupted"]["reached_s"]
    assert r["total"] < N_REQUESTS
    assert r["unfinished"] == r["total"] - r["completed"] - r["failed"] > 0
    assert finished == r["completed"] + r["failed"]
    assert stats["invariants"]["ok"], stats["invariants"]
    assert not list(out.glob("*.llmsim-tmp")) and not list(out.glob(".*.llmsim-tmp"))


@pytest.mark.parametrize(("sig", "status"), [(signal.SIGINT, EXIT_SIGINT), (signal.SIGTERM, EXIT_SIGTERM)])
def test_signal_while_starting_writes_nothing_and_exits_with_its_status(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sig: signal.Signals, status: int) -> None:
    """A signal before the run loop: no outputs at all, exit 128 + the signal's number (143 for SIGTERM)."""
    from llmsim import replay
    from llmsim.cli import main

    build = replay.Cluster.__init__

    def signalled(self: replay.Cluster, *args: object, **kw: object) -> None:
        build(self, *args, **kw)  # type: ignore[arg-type]
        os.kill(os.getpid(), sig)

    monkeypatch.setattr(replay.Cluster, "__init__", signalled)
    out = tmp_path / "out"
    assert main(["replay", "-q", "--limit", "5", "-o", str(out)]) == status
    assert not out.exists()
