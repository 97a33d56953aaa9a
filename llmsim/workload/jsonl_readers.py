"""Readers for the JSON-lines trace formats: seed, canonical llmsim, and Mooncake."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import msgspec

from llmsim.workload.canonical import VERSION_KEY, check_version_header
from llmsim.workload.fields import (
    LineContext,
    as_float,
    as_int,
    as_int_tuple,
    as_str,
    required_float,
    required_int,
)
from llmsim.workload.request import TraceRequest
from llmsim.workload.source import default_id, iter_lines

_DECODER = msgspec.json.Decoder()
MOONCAKE_BLOCK_TOKENS = 512  # each Mooncake hash_id names a 512-token block of the prompt (Mooncake's trace README)


def iter_json_objects(path: str) -> Iterator[tuple[LineContext, dict[str, Any]]]:
    """Yield (location, object) for each non-blank line; bad JSON is a TraceError at its line."""
    for line_no, text in iter_lines(path):
        if not text.strip():
            continue
        ctx = LineContext(path, line_no)
        try:
            obj = _DECODER.decode(text)
        except RecursionError:
            raise ctx.error("JSON nested too deeply", expected="one flat JSON object per line") from None
        except msgspec.DecodeError:
            if not text.endswith("\n"):
                raise ctx.error("truncated last line", expected="a complete JSON object") from None
            raise ctx.error("not valid JSON", expected="one JSON object per line") from None
        if not isinstance(obj, dict):
            raise ctx.error(f"got a JSON {type(obj).__name__}", expected="a JSON object")
        yield ctx, obj


def _optional_str(obj: dict[str, Any], name: str, ctx: LineContext) -> str | None:
    value = obj.get(name)
    return None if value is None else as_str(value, name, ctx)


def _optional_float(obj: dict[str, Any], name: str, ctx: LineContext) -> float | None:
    value = obj.get(name)
    return None if value is None else as_float(value, name, ctx)


def _id(obj: dict[str, Any], ctx: LineContext) -> str:
    value = obj.get("id")
    return default_id(ctx.path, ctx.line) if value is None else as_str(value, "id", ctx)


def read_seed(path: str) -> Iterator[TraceRequest]:
    """The seed simulator's JSONL; its created_at/finished_at are not arrivals (untimed)."""
    for ctx, obj in iter_json_objects(path):
        yield TraceRequest(
            id=_id(obj, ctx),
            line=ctx.line,
            input_tokens=required_int(obj, "reported_token_input", ctx),
            output_tokens=required_int(obj, "reported_token_output", ctx),
            model=_optional_str(obj, "model", ctx),
        )


def read_mooncake(path: str) -> Iterator[TraceRequest]:
    """Mooncake JSONL: `timestamp` in ms, `input_length`, `output_length`, `hash_ids`."""
    for ctx, obj in iter_json_objects(path):
        hashes = obj.get("hash_ids")
        yield TraceRequest(
            id=_id(obj, ctx),
            line=ctx.line,
            input_tokens=required_int(obj, "input_length", ctx),
            output_tokens=required_int(obj, "output_length", ctx),
            arrival_s=required_float(obj, "timestamp", ctx) / 1000.0,
            prefix_hashes=() if hashes is None else as_int_tuple(hashes, "hash_ids", ctx),
            prefix_block_tokens=MOONCAKE_BLOCK_TOKENS,
            model=_optional_str(obj, "model", ctx),
        )


def read_canonical(path: str) -> Iterator[TraceRequest]:
    """The canonical llmsim trace (see docs/trace_format.md); an optional version header line."""
    first = True
    for ctx, obj in iter_json_objects(path):
        if first and VERSION_KEY in obj:
            check_version_header(obj, ctx)
            first = False
            continue
        first = False
        yield _canonical_request(obj, ctx)


def _canonical_request(obj: dict[str, Any], ctx: LineContext) -> TraceRequest:
    slo = obj.get("slo")
    if slo is not None and not isinstance(slo, dict):
        raise ctx.error(f"got {slo!r}", field="slo", expected='an object like {"ttft_s": 0.5}')
    slo = slo or {}
    hashes = obj.get("prefix_hashes")
    unit = obj.get("prefix_block_tokens")
    unit = MOONCAKE_BLOCK_TOKENS if unit is None else as_int(unit, "prefix_block_tokens", ctx)
    if unit <= 0:
        raise ctx.error(f"got {unit}", field="prefix_block_tokens", expected="a positive number of tokens")
    priority = obj.get("priority")
    return TraceRequest(
        id=_id(obj, ctx),
        line=ctx.line,
        input_tokens=required_int(obj, "input_tokens", ctx),
        output_tokens=required_int(obj, "output_tokens", ctx),
        model=_optional_str(obj, "model", ctx),
        arrival_s=_optional_float(obj, "arrival_s", ctx),
        priority=0 if priority is None else as_int(priority, "priority", ctx),
        prefix_hashes=() if hashes is None else as_int_tuple(hashes, "prefix_hashes", ctx),
        prefix_block_tokens=unit,
        slo_ttft_s=_slo_value(slo, "ttft_s", ctx),
        slo_tpot_s=_slo_value(slo, "tpot_s", ctx),
    )


def _slo_value(slo: dict[str, Any], name: str, ctx: LineContext) -> float | None:
    value = slo.get(name)
    if value is None:
        return None
    seconds = as_float(value, f"slo.{name}", ctx)
    if not 0 < seconds <= MAX_SLO_S:
        raise ctx.error(f"got {value!r}", field=f"slo.{name}", expected=f"seconds > 0 and <= {MAX_SLO_S:g}")
    return seconds


MAX_SLO_S = 1e6
