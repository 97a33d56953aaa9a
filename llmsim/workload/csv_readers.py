"""Readers for the CSV trace formats: Azure LLM inference, BurstGPT, and Vidur/Splitwise."""

from __future__ import annotations

import csv
from collections.abc import Iterator

from llmsim.errors import InputFileError
from llmsim.inputs import MAX_LINE_BYTES
from llmsim.workload.fields import LineContext, as_str, require, required_float, required_int
from llmsim.workload.request import TraceRequest
from llmsim.workload.source import default_id, iter_lines
from llmsim.workload.timestamps import parse_datetime_s

AZURE_COLUMNS = ("TIMESTAMP", "ContextTokens", "GeneratedTokens")
BURSTGPT_COLUMNS = ("Timestamp", "Request tokens", "Response tokens")
VIDUR_COLUMNS = ("num_prefill_tokens", "num_decode_tokens")
SECONDS_PER_DAY = 86_400
csv.field_size_limit(MAX_LINE_BYTES)  # a field may fill a line; lines are bounded by the reader


def iter_csv_rows(path: str) -> Iterator[tuple[LineContext, dict[str, str]]]:
    """Yield (location, row by header name) for each non-empty data row of a CSV file."""
    reader = csv.reader(text for _, text in iter_lines(path))
    try:
        header = [name.strip() for name in next(reader, [])]
        for row in reader:
            if not row or all(not cell.strip() for cell in row):
                continue
            ctx = LineContext(path, reader.line_num)
            if len(row) < len(header):
                raise ctx.error("missing field (short or truncated row)", field=header[len(row)])
            yield ctx, dict(zip(header, row))
    except csv.Error as err:
        raise InputFileError(f"not valid CSV: {err}", file=path) from None


def read_azure(path: str) -> Iterator[TraceRequest]:
    """Azure LLM inference trace (2023 and 2024): TIMESTAMP, ContextTokens, GeneratedTokens.

    arrival_s counts seconds from 00:00 UTC of the first request's day (a time of day, exact
    to the nanosecond), not from 1970.
    """
    day_start_s: int | None = None
    for ctx, row in iter_csv_rows(path):
        stamp = require(row, "TIMESTAMP", ctx)
        parsed = parse_datetime_s(stamp)
        if parsed is None:
            raise ctx.error(f"got {stamp!r}", field="TIMESTAMP", expected="YYYY-MM-DD HH:MM:SS[.fff]")
        whole_s, fraction_s = parsed
        if day_start_s is None:
            day_start_s = whole_s - whole_s % SECONDS_PER_DAY
        yield TraceRequest(
            id=default_id(path, ctx.line),
            line=ctx.line,
            input_tokens=required_int(row, "ContextTokens", ctx),
            output_tokens=required_int(row, "GeneratedTokens", ctx),
            arrival_s=(whole_s - day_start_s) + fraction_s,
        )


def read_burstgpt(path: str) -> Iterator[TraceRequest]:
    """BurstGPT: Timestamp (s), Model, Request tokens, Response tokens, Total tokens, Log Type.

    Failed requests appear with 0 response tokens; they are yielded unchanged so the request
    count matches the source, and the engine counts them as skipped (invalid length).
    """
    for ctx, row in iter_csv_rows(path):
        model = row.get("Model")
        yield TraceRequest(
            id=default_id(path, ctx.line),
            line=ctx.line,
            input_tokens=required_int(row, "Request tokens", ctx),
            output_tokens=required_int(row, "Response tokens", ctx),
            arrival_s=required_float(row, "Timestamp", ctx),
            model=as_str(model, "Model", ctx) if model else None,
        )


def read_vidur(path: str) -> Iterator[TraceRequest]:
    """Vidur/Splitwise CSV: arrived_at (s, optional column), num_prefill_tokens, num_decode_tokens."""
    for ctx, row in iter_csv_rows(path):
        arrived = row.get("arrived_at")
        yield TraceRequest(
            id=default_id(path, ctx.line),
            line=ctx.line,
            input_tokens=required_int(row, "num_prefill_tokens", ctx),
            output_tokens=required_int(row, "num_decode_tokens", ctx),
            arrival_s=None if arrived is None else required_float(row, "arrived_at", ctx),
        )
