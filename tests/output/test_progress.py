"""Progress on stderr: a status line on a terminal, silent otherwise or when quiet."""

from __future__ import annotations

import io
from types import SimpleNamespace

from llmsim.output.progress import Progress


def _engine(now_ns: int, entered: int, finished: int) -> SimpleNamespace:
    sim = SimpleNamespace(events=1234, now=now_ns)
    return SimpleNamespace(ctx=SimpleNamespace(now=now_ns, _sim=sim), entered=entered, finished=finished)


def test_silent_when_not_a_terminal() -> None:
    """A pipe or file gets nothing."""
    out = io.StringIO()
    p = Progress(stream=out)
    p(_engine(5_000_000_000, 10, 3))
    p.close()
    assert out.getvalue() == ""


def test_quiet_wins_over_a_terminal() -> None:
    """--quiet silences even a terminal."""
    out = io.StringIO()
    p = Progress(quiet=True, stream=out, force=True)
    p(_engine(1, 1, 1))
    assert out.getvalue() == ""


def test_terminal_line_shows_time_requests_and_rate() -> None:
    """The line redraws in place and close() ends it with a newline."""
    out = io.StringIO()
    p = Progress(stream=out, force=True)
    p(_engine(12_500_000_000, 40, 25))
    p.close()
    text = out.getvalue()
    assert text.startswith("\r") and text.endswith("\n")
    assert "12.5 s" in text and "40 arrived" in text and "25 finished" in text and "events/s" in text
