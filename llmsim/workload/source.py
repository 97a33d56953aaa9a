"""Opening trace files and streaming their lines, with file problems turned into InputFileError."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import IO

from llmsim.errors import InputFileError
from llmsim.inputs import STDIN, bounded_lines, open_input


def open_binary(path: str) -> IO[bytes]:
    """Open a trace file for streaming (stdin and FIFOs are read once, then re-read from a copy)."""
    if path != STDIN and os.path.isdir(path):
        raise InputFileError("is a directory, not a trace file", file=path)
    return open_input(path)


def iter_lines(path: str) -> Iterator[tuple[int, str]]:
    """Yield (1-based line number, text with its newline) for every line of a UTF-8 file.

    Lines are decoded one at a time, so a byte that is not UTF-8 is reported on its own line
    (a newline byte never occurs inside a UTF-8 character). A leading byte-order mark, which
    spreadsheet exports often add, is dropped.
    """
    with open_binary(path) as handle:
        for line_no, raw in bounded_lines(handle, path):
            if line_no == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]
            try:
                yield line_no, raw.decode("utf-8")
            except UnicodeDecodeError:
                raise InputFileError("not UTF-8 text", file=path, line=line_no, expected="a UTF-8 file") from None


def first_content_line(path: str) -> str | None:
    """The first line that is not blank, stripped, or None for a file with no content."""
    for _, text in iter_lines(path):
        if text.strip():
            return text.strip()
    return None


def default_id(path: str, line: int) -> str:
    """The id given to a request whose trace names none: `basename:line`."""
    return f"{os.path.basename(path)}:{line}"
