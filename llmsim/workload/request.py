"""One request as read from a trace, before arrival times are assigned."""

from __future__ import annotations

import msgspec


class TraceRequest(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """A request read from a trace: token counts plus whatever the trace says about it.

    `arrival_s` is the trace's own timestamp in seconds, not yet rebased (None when the format
    carries no arrival times); `with_arrivals` turns it into a simulation arrival.
    """

    id: str
    line: int
    input_tokens: int
    output_tokens: int
    model: str | None = None
    arrival_s: float | None = None
    priority: int = 0
    prefix_hashes: tuple[int, ...] = ()  # identity of the prompt's blocks of `prefix_block_tokens` tokens each
    prefix_block_tokens: int = 0
    slo_ttft_s: float | None = None
    slo_tpot_s: float | None = None
