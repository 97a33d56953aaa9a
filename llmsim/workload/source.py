"""Opening trace files and streaming their lines, with file problems turned into InputFileError."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import IO

from llmsim.errors import InputFileError


def open_text(path: str) -> IO[str]:
    """Open a UTF-8 text file for streaming, or raise InputFileError."""
    if os.path.isdir(path):
        raise InputFileError("is a directory, not a trace file", file=path)
    try:
        # utf-8-sig drops a byte-order mark, which spreadsheet exports often add.
        return open(path, encoding="utf-8-sig", newline="")
    except FileNotFoundError:
        raise InputFileError("no such file", file=path) from None
    except OSError as err:
        raise InputFileError(f"cannot read: {err.strerror or err}", file=path) from None


def iter_lines(path: str) -> Iterator[tuple[int, str]]:
    """Yield (1-based line number, text with its newline) for every line of a UTF-8 file."""
    with open_text(path) as handle:
        line_no = 0
        try:
            for line_no, text in enumerate(handle, start=1):
                yield line_no, text
        except UnicodeDecodeError:
            raise InputFileError(
                f"not UTF-8 text (after line {line_no})", file=path, expected="a UTF-8 file"
            ) from None


def first_content_line(path: str) -> str | None:
    """The first line that is not blank, stripped, or None for a file with no content."""
    for _, text in iter_lines(path):
        if text.strip():
            return text.strip()
    return None


def default_id(path: str, line: int) -> str:
    """The id given to a request whose trace names none: `basename:line`."""
    return f"{os.path.basename(path)}:{line}"
