"""An exclusive, non-blocking lock on an output folder, so that two runs never write into one folder.

The lock is taken on the folder itself (flock on its descriptor), so it creates no file and the
kernel drops it when the process ends, however it ends.
"""

from __future__ import annotations

import os
from pathlib import Path

from llmsim.errors import OutputError

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: no locking
    fcntl = None  # type: ignore[assignment]


class FolderLock:
    """Holds the lock on one folder from `acquire` until `release`."""

    def __init__(self, folder: Path, option: str) -> None:
        self.folder, self.option = folder, option
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock, or raise OutputError when another run holds it."""
        if fcntl is None:
            return
        fd = os.open(self.folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise OutputError("another llmsim run is writing to this folder", file=str(self.folder),
                              field=self.option, expected="a different --output-dir, or wait for that run to end") \
                from None
        self._fd = fd

    def release(self) -> None:
        """Drop the lock (idempotent)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
