"""The canonical llmsim trace format (version 1): msgspec Structs, version header, writer."""

from __future__ import annotations

from collections.abc import Iterable
from typing import IO, Any

import msgspec

from llmsim.workload.fields import LineContext
from llmsim.workload.request import TraceRequest

FORMAT_VERSION = 1
VERSION_KEY = "llmsim_trace_version"


class Slo(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """Per-request latency targets that override the run's defaults."""

    ttft_s: float | None = None
    tpot_s: float | None = None


class CanonicalRecord(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True, gc=False):
    """One line of a canonical trace; absent optional fields are left out of the JSON."""

    input_tokens: int
    output_tokens: int
    arrival_s: float | None = None
    model: str | None = None
    id: str | None = None
    priority: int = 0
    prefix_hashes: tuple[int, ...] = ()
    prefix_block_tokens: int | None = None  # tokens each prefix hash covers; None: Mooncake's 512
    slo: Slo | None = None


class VersionHeader(msgspec.Struct, frozen=True):
    """The optional first line of a canonical trace: `{"llmsim_trace_version": 1}`."""

    llmsim_trace_version: int = FORMAT_VERSION


def check_version_header(obj: dict[str, Any], ctx: LineContext) -> None:
    """Accept a header naming a version this reader understands, or raise a TraceError."""
    version = obj.get(VERSION_KEY)
    if version != FORMAT_VERSION:
        raise ctx.error(
            f"unsupported canonical trace version {version!r}",
            field=VERSION_KEY,
            expected=str(FORMAT_VERSION),
        )


def to_record(request: TraceRequest, arrival_s: float | None) -> CanonicalRecord:
    """The canonical record for a request, with the given arrival (None = untimed)."""
    slo = None
    if request.slo_ttft_s is not None or request.slo_tpot_s is not None:
        slo = Slo(ttft_s=request.slo_ttft_s, tpot_s=request.slo_tpot_s)
    return CanonicalRecord(
        arrival_s=arrival_s,
        input_tokens=request.input_tokens,
        output_tokens=request.output_tokens,
        model=request.model,
        id=request.id,
        priority=request.priority,
        prefix_hashes=request.prefix_hashes,
        prefix_block_tokens=request.prefix_block_tokens if request.prefix_hashes else None,
        slo=slo,
    )


def write_canonical(records: Iterable[CanonicalRecord], out: IO[bytes]) -> int:
    """Write a version header then one record a line; return the number of records written."""
    encoder = msgspec.json.Encoder()
    buffer = bytearray()
    out.write(encoder.encode(VersionHeader()) + b"\n")
    count = 0
    for record in records:
        encoder.encode_into(record, buffer)
        buffer.extend(b"\n")
        out.write(buffer)
        count += 1
    return count
