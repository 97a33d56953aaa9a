"""Trace format registry, auto-detection from a file's first line, and `open_trace`."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator

import msgspec

from llmsim.errors import InputFileError, TraceError, UsageError
from llmsim.workload.canonical import VERSION_KEY
from llmsim.workload.csv_readers import (
    AZURE_COLUMNS,
    BURSTGPT_COLUMNS,
    VIDUR_COLUMNS,
    read_azure,
    read_burstgpt,
    read_vidur,
)
from llmsim.workload.jsonl_readers import read_canonical, read_mooncake, read_seed
from llmsim.workload.request import TraceRequest
from llmsim.workload.source import first_content_line

Reader = Callable[[str], Iterator[TraceRequest]]

READERS: dict[str, Reader] = {
    "seed": read_seed,
    "llmsim": read_canonical,
    "mooncake": read_mooncake,
    "azure": read_azure,
    "burstgpt": read_burstgpt,
    "vidur": read_vidur,
}

TRACE_FORMATS: tuple[str, ...] = ("auto", *READERS)

# Key that identifies each JSONL format in the first object, checked in this order.
_JSON_MARKERS = (
    (VERSION_KEY, "llmsim"),
    ("input_tokens", "llmsim"),
    ("reported_token_input", "seed"),
    ("input_length", "mooncake"),
)
_CSV_MARKERS = ((AZURE_COLUMNS, "azure"), (BURSTGPT_COLUMNS, "burstgpt"), (VIDUR_COLUMNS, "vidur"))


def open_trace(path: str, fmt: str = "auto") -> Iterator[TraceRequest]:
    """Stream the requests of a trace file; the format is detected unless `fmt` names one.

    File problems (missing, not UTF-8, unknown format) are raised here, before iteration;
    problems with a line are raised when that line is reached.
    """
    if fmt not in TRACE_FORMATS:
        raise UsageError(f"unknown trace format {fmt!r}", expected="one of " + ", ".join(TRACE_FORMATS))
    name = detect_format(path) if fmt == "auto" else fmt
    if fmt != "auto" and first_content_line(path) is None:
        raise TraceError("trace is empty", file=path)
    return _non_empty(READERS[name](path), path)


def detect_format(path: str) -> str:
    """The format name of a trace file, judged from its first non-blank line."""
    first = first_content_line(path)
    if first is None:
        raise TraceError("trace is empty", file=path)
    if first.startswith("{"):
        return _detect_json(first, path)
    return _detect_csv(first, path)


def _detect_json(first: str, path: str) -> str:
    try:
        obj = msgspec.json.decode(first)
    except RecursionError:
        raise TraceError("JSON nested too deeply", file=path, line=1, expected="one flat JSON object per line") from None
    except msgspec.DecodeError:
        raise TraceError("first line is not valid JSON", file=path, line=1) from None
    if isinstance(obj, dict):
        for key, name in _JSON_MARKERS:
            if key in obj:
                return name
    raise InputFileError(
        "unrecognised JSONL trace",
        file=path,
        expected="fields input_tokens (llmsim), reported_token_input (seed) or input_length (Mooncake)",
    )


def _detect_csv(first: str, path: str) -> str:
    try:
        header = {name.strip() for name in next(csv.reader(io.StringIO(first)), [])}
    except csv.Error as err:
        raise InputFileError(f"not valid CSV: {err}", file=path, line=1) from None
    for columns, name in _CSV_MARKERS:
        if header.issuperset(columns):
            return name
    raise InputFileError(
        "unrecognised trace format",
        file=path,
        expected="JSONL, or CSV with Azure, BurstGPT or Vidur columns; or pass --format",
    )


def _non_empty(requests: Iterator[TraceRequest], path: str) -> Iterator[TraceRequest]:
    """Pass requests through, raising TraceError at the end if there were none."""
    count = 0
    for request in requests:
        count += 1
        yield request
    if count == 0:
        raise TraceError("trace is empty", file=path)
