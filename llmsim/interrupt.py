"""SIGINT/SIGTERM during a run: stop the simulation at the current virtual time, not mid-write.

The handler only sets a flag and asks the simulation to stop; the run loop returns after the
delivery in progress, and the caller closes the outputs and writes an incomplete stats.json.
A second signal while stopping raises KeyboardInterrupt, so a stuck run can still be killed.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from types import FrameType, TracebackType
from typing import Any

from llmsim.errors import EXIT_SIGINT, EXIT_SIGTERM

SIGNALS: tuple[signal.Signals, ...] = (signal.SIGINT, signal.SIGTERM)
EXIT_STATUS: dict[int, int] = {signal.SIGINT: EXIT_SIGINT, signal.SIGTERM: EXIT_SIGTERM}


def exit_status(signum: int) -> int:
    """The shell's exit status for a run stopped by `signum` (128 + signal number)."""
    return EXIT_STATUS.get(signum, 128 + signum)


class StoppedBySignal(KeyboardInterrupt):
    """A signal arrived before the run began: nothing was written; the exit status names the signal."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


class StopOnSignal:
    """Context manager: while active, SIGINT/SIGTERM call `stop()` once and record the signal.

    Outside the main thread (where Python cannot install handlers) it does nothing.
    """

    def __init__(self, stop: Callable[[], None]) -> None:
        self._stop = stop
        self.signum: int | None = None
        self._previous: dict[int, Any] = {}

    @property
    def interrupted(self) -> bool:
        """A signal arrived while active."""
        return self.signum is not None

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.signum is not None:
            raise KeyboardInterrupt  # second signal: give up on a clean stop
        self.signum = signum
        self._stop()

    def __enter__(self) -> StopOnSignal:
        if threading.current_thread() is threading.main_thread():
            for sig in SIGNALS:
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 tb: TracebackType | None) -> None:
        for sig, previous in self._previous.items():
            signal.signal(sig, previous)
        self._previous.clear()
