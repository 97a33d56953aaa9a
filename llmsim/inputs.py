"""Reading input files safely: bounded lines and documents, FIFOs and stdin read once (spooled)."""

from __future__ import annotations

import atexit
import os
import shutil
import stat
import sys
import tempfile
from collections.abc import Iterator
from typing import IO

from llmsim.errors import InputFileError

MAX_LINE_BYTES = 16 * 1024 * 1024  # one trace or event line; longer is not a request, and bounds memory
MAX_DOCUMENT_BYTES = 256 * 1024 * 1024  # a whole JSON document (env.json, a hardware file)
STDIN = "-"

_spooled: dict[str, str] = {}


def _is_stream(path: str) -> bool:
    """stdin ('-'), a FIFO or a character device: something that can be read only once."""
    if path == STDIN:
        return True
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISCHR(mode) or stat.S_ISSOCK(mode)


def _cleanup() -> None:
    for spool in _spooled.values():
        try:
            os.unlink(spool)
        except OSError:
            pass


def local_path(path: str) -> str:
    """A regular file holding `path`'s bytes: the path itself, or (stdin, FIFO) a copy made on first use."""
    spool = _spooled.get(path)
    if spool is not None:
        return spool
    if not _is_stream(path):
        return path
    fd, spool = tempfile.mkstemp(prefix="llmsim-input-", suffix=".spool")
    if not _spooled:
        atexit.register(_cleanup)
    _spooled[path] = spool
    try:
        with os.fdopen(fd, "wb") as out:
            if path == STDIN:
                shutil.copyfileobj(sys.stdin.buffer, out, 1 << 20)
            else:
                with open(path, "rb") as src:
                    shutil.copyfileobj(src, out, 1 << 20)
    except OSError as err:
        raise InputFileError(f"cannot read: {err.strerror or err}", file=path) from None
    return spool


def open_input(path: str) -> IO[bytes]:
    """Open an input file for reading in binary, or raise InputFileError naming it."""
    if path != STDIN and os.path.isdir(path):
        raise InputFileError("is a directory, not a file", file=path, expected="a file")
    try:
        return open(local_path(path), "rb")
    except FileNotFoundError:
        raise InputFileError("no such file", file=path) from None
    except OSError as err:
        raise InputFileError(f"cannot read: {err.strerror or err}", file=path) from None


def read_document(path: str, limit: int = MAX_DOCUMENT_BYTES) -> bytes:
    """The whole file (at most `limit` bytes), or InputFileError."""
    with open_input(path) as handle:
        try:
            data = handle.read(limit + 1)
        except OSError as err:
            raise InputFileError(f"cannot read: {err.strerror or err}", file=path) from None
    if len(data) > limit:
        raise InputFileError(f"file larger than {limit:,} bytes", file=path, expected="a smaller file")
    return data


def bounded_lines(handle: IO[bytes], path: str, limit: int = MAX_LINE_BYTES) -> Iterator[tuple[int, bytes]]:
    """(1-based line number, raw line) for each line, refusing one longer than `limit` bytes."""
    line_no = 0
    readline = handle.readline
    while True:
        raw = readline(limit + 1)
        if not raw:
            return
        line_no += 1
        if len(raw) > limit:
            raise InputFileError(f"line longer than {limit:,} bytes", file=path, line=line_no,
                                 expected="one JSON object or CSV row per line")
        yield line_no, raw
