"""Progress of a long replay on stderr: one self-overwriting status line, only on a terminal.

The line is redrawn by a background thread on a wall-clock timer, never by simulation events,
so it costs the run nothing however short the interval or however long the trace's span.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import Any, TextIO

from llmsim.kernel.clock import NS_PER_S

MIN_REDRAW_S = 0.1  # at most ten redraws per wall second, however short --print-interval is


class Progress:
    """Draws the engine's state every `interval` wall seconds from `start` to `close`.

    Draws simulated time, requests arrived and finished and the event rate on `stream` when it is
    a terminal; silent when it is not (logs, pipes, CI) or when `quiet`.
    """

    def __init__(self, quiet: bool = False, stream: TextIO | None = None, force: bool = False) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = not quiet and (force or _is_terminal(self.stream))
        self.quiet = quiet
        self._start_wall = self._last_wall = time.perf_counter()
        self._last_events = 0
        self._drawn = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, engine: Any, interval_s: float) -> None:
        """Redraw every `interval_s` wall seconds (at least MIN_REDRAW_S) until close(); nothing when disabled."""
        if not self.enabled or self._thread is not None:
            return
        period = max(interval_s, MIN_REDRAW_S)

        def loop() -> None:
            while not self._stop.wait(period):
                try:
                    self(engine)
                except (OSError, ValueError):  # the terminal went away: stop drawing
                    return

        self._thread = threading.Thread(target=loop, name="llmsim-progress", daemon=True)
        self._thread.start()

    def __call__(self, engine: Any) -> None:
        if not self.enabled:
            return
        now_wall = time.perf_counter()
        if self._drawn and now_wall - self._last_wall < MIN_REDRAW_S:
            return
        events = _event_count(engine)
        rate = (events - self._last_events) / max(now_wall - self._last_wall, 1e-9)
        self._last_wall, self._last_events = now_wall, events
        self.stream.write("\r" + status_line(engine.ctx.now, engine.entered, engine.finished, rate,
                                             now_wall - self._start_wall) + "\x1b[K")
        self.stream.flush()
        self._drawn = True

    def close(self) -> None:
        """Stop redrawing and end the status line so that what follows starts on a fresh line."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self._drawn:
            self.stream.write("\n")
            self.stream.flush()
            self._drawn = False


def status_line(now_ns: int, arrived: int, finished: int, events_per_s: float, wall_s: float) -> str:
    """The text of one progress update."""
    return (f"simulated {now_ns / NS_PER_S:10.1f} s | requests {arrived} arrived, {finished} finished "
            f"| {events_per_s / 1000:7.1f}k events/s | wall {wall_s:6.1f} s")


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _event_count(engine: Any) -> int:
    """Events delivered so far (the simulation behind the engine's context), 0 if unknown."""
    sim = getattr(engine.ctx, "_sim", None)
    return int(getattr(sim, "events", 0))
