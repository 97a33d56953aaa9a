"""Read and validate JSON files into msgspec Structs, turning every failure into one clear error."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TypeVar

import msgspec

from llmsim.errors import ConfigError, InputFileError
from llmsim.inputs import read_document

T = TypeVar("T")

_PATH_RE = re.compile(r" - at `\$(?P<path>[^`]*)`$")
_BYTE_RE = re.compile(r"\(byte (?P<offset>\d+)\)$")


def read_bytes(path: str | Path) -> bytes:
    """Read a whole file (bounded; a FIFO or stdin once) or raise InputFileError naming it."""
    try:
        return read_document(str(path))
    except InputFileError as err:
        if err.message == "no such file":
            err.message = "file not found"
        raise


def split_validation_error(err: msgspec.ValidationError) -> tuple[str | None, str]:
    """Split msgspec's 'message - at `$.a.b`' into ('a.b', 'message')."""
    text = str(err)
    match = _PATH_RE.search(text)
    if match is None:
        return None, text
    return match.group("path").lstrip(".") or None, text[: match.start()]


def line_of_offset(data: bytes, offset: int) -> int:
    """1-based line number of a byte offset."""
    return data.count(b"\n", 0, max(0, offset)) + 1


def decode_file(path: str | Path, kind: type[T], error: type[ConfigError] = ConfigError) -> T:
    """Decode a JSON file into `kind`, raising `error` with file, field and expectation."""
    data = read_bytes(path)
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise InputFileError("not UTF-8", file=str(path), line=line_of_offset(data, err.start)) from None
    try:
        return msgspec.json.decode(data, type=kind)
    except RecursionError:
        raise error("JSON nested too deeply", file=str(path), expected="a JSON object of ordinary depth") from None
    except msgspec.ValidationError as err:
        field, message = split_validation_error(err)
        raise error(message, file=str(path), field=field) from None
    except msgspec.DecodeError as err:
        raise error(f"not valid JSON: {err}", file=str(path), line=_error_line(data, str(err)),
                    expected="a JSON object") from None


def _error_line(data: bytes, message: str) -> int | None:
    """The line of a decode error: from msgspec's '(byte N)', or the last line when truncated."""
    match = _BYTE_RE.search(message)
    if match is not None:
        return line_of_offset(data, int(match.group("offset")))
    if "truncated" in message:
        return line_of_offset(data, len(data.rstrip()))
    return None
