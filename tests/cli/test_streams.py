"""Streams as inputs and outputs: stdin and FIFOs read once, a closed stdout pipe, Ctrl-C at start-up."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from llmsim.cli import main
from llmsim.errors import EXIT_SIGINT

LINE = '{"input_tokens": 40, "output_tokens": 4, "model": "llama-3.1-8b-instruct"}\n'
ENV = {**os.environ, "TRANSFORMERS_NO_ADVISORY_WARNINGS": "1"}


def test_stdin_trace_with_strict_is_read_once(tmp_path: Path) -> None:
    """`-i -` with --strict: detection, pre-pass and run all see the same 7 requests."""
    proc = subprocess.run([sys.executable, "-m", "llmsim", "replay", "-q", "-i", "-", "--n-engines", "1", "--strict",
                           "-o", str(tmp_path / "out")], input=(LINE * 7).encode(), capture_output=True, timeout=120,
                          env=ENV)
    assert proc.returncode == 0, proc.stderr.decode()
    assert json.loads((tmp_path / "out" / "stats.json").read_bytes())["requests"]["completed"] == 7


def test_fifo_trace_is_read_once(tmp_path: Path) -> None:
    """A named pipe used to hang (opened again after the format was detected); now it is spooled."""
    fifo = tmp_path / "trace.fifo"
    os.mkfifo(fifo)

    def feed() -> None:
        with open(fifo, "w") as f:
            f.write(LINE * 5)

    writer = threading.Thread(target=feed, daemon=True)
    writer.start()
    proc = subprocess.run([sys.executable, "-m", "llmsim", "replay", "-q", "-i", str(fifo), "--n-engines", "1",
                           "--strict", "-o", str(tmp_path / "out")], capture_output=True, timeout=120, env=ENV)
    writer.join(timeout=5)
    assert proc.returncode == 0, proc.stderr.decode()
    assert json.loads((tmp_path / "out" / "stats.json").read_bytes())["requests"]["completed"] == 5


def test_a_closed_stdout_pipe_is_a_quiet_exit(tmp_path: Path) -> None:
    """`llmsim replay --json | head -c 1`: no BrokenPipeError traceback, status 141, outputs complete."""
    trace = tmp_path / "t.jsonl"
    trace.write_text(LINE * 3)
    proc = subprocess.Popen([sys.executable, "-m", "llmsim", "replay", "-q", "--json", "-i", str(trace),
                             "--n-engines", "1", "-o", str(tmp_path / "out")], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env={**ENV, "PYTHONUNBUFFERED": "1"})
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # the reader goes away before anything is printed
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 141, err
    assert err == "", err
    assert json.loads((tmp_path / "out" / "stats.json").read_bytes())["complete"] is True


def test_ctrl_c_while_starting_up_exits_130(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """A KeyboardInterrupt while the commands are being loaded is `llmsim: interrupted`, status 130."""
    import llmsim.cli as cli

    def interrupted() -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "build_parser", interrupted)
    assert main(["replay"]) == EXIT_SIGINT
    assert capsys.readouterr().err.strip() == "llmsim: interrupted"
