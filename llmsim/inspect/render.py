"""Render inspection results as aligned text tables (terminals) or JSON lines (`--json`)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import msgspec

from llmsim.inspect.filter import kind_of
from llmsim.inspect.summary import Summary
from llmsim.inspect.timeline import Timeline
from llmsim.kernel.clock import NS_PER_S
from llmsim.output.events import Event

SHOWN_APART = ("t_ns", "request_id", "node", "replica")


def table(header: list[str], rows: Iterable[list[str]]) -> Iterator[str]:
    """Left-aligned columns; widths from the header and the first rows (streams, never buffers all)."""
    rows = iter(rows)
    head = [r for _, r in zip(range(200), rows)]
    widths = [max(len(c) for c in col) for col in zip(header, *head)]

    def fmt(row: list[str]) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip()

    yield fmt(header)
    for row in head:
        yield fmt(row)
    for row in rows:
        yield fmt(row)


def _s(t_ns: int | None) -> str:
    return "-" if t_ns is None else f"{t_ns / NS_PER_S:.6f}"


def event_row(event: Event) -> list[str]:
    """time, kind, request, node, gpu, remaining fields as key=value."""
    fields = msgspec.structs.asdict(event)
    details = " ".join(f"{k}={v}" for k, v in fields.items() if k not in SHOWN_APART)
    node = fields.get("node")
    return [_s(event.t_ns), kind_of(event), str(fields.get("request_id") or "-"),
            "-" if node is None else str(node), str(fields.get("replica") or "-"), details]


def event_table(events: Iterable[Event]) -> Iterator[str]:
    """Lines of the `filter` table."""
    return table(["t_s", "kind", "request", "node", "gpu", "details"], (event_row(e) for e in events))


def event_json(events: Iterable[Event]) -> Iterator[bytes]:
    """One encoded event per line, as in events.jsonl."""
    encoder = msgspec.json.Encoder()
    for event in events:
        yield encoder.encode(event)


def timeline_lines(tl: Timeline) -> Iterator[str]:
    """The phases table, then totals per category."""
    yield f"request {tl.request_id}: {tl.outcome}"
    rows = [[_s(p.start_ns - tl.arrival_ns), _s(p.duration_ns), p.label, p.category,
             "-" if p.node is None else str(p.node), p.gpu or "-"] for p in tl.phases]
    yield from table(["at_s", "lasted_s", "phase", "counts_as", "node", "gpu"], rows)
    totals = tl.totals_ns()
    yield "totals: " + ", ".join(f"{k} {_s(v)} s" for k, v in totals.items())
    if tl.e2e_ns is not None:
        yield f"end-to-end: {_s(tl.e2e_ns)} s"


def timeline_json(tl: Timeline) -> dict[str, Any]:
    """The timeline as one JSON document (seconds)."""
    return {"request_id": tl.request_id, "outcome": tl.outcome, "arrival_s": tl.arrival_ns / NS_PER_S,
            "e2e_s": None if tl.e2e_ns is None else tl.e2e_ns / NS_PER_S,
            "totals_s": {k: v / NS_PER_S for k, v in tl.totals_ns().items()},
            "phases": [{"label": p.label, "category": p.category, "start_s": p.start_ns / NS_PER_S,
                        "duration_s": p.duration_ns / NS_PER_S, "node": p.node, "gpu": p.gpu} for p in tl.phases]}


def _counts(title: str, counts: dict[str, int]) -> Iterator[str]:
    yield ""
    yield from table([title, "events"], ([k, str(v)] for k, v in counts.items()))


def summary_lines(s: Summary) -> Iterator[str]:
    """Counts per kind, node and GPU, then the busiest windows."""
    yield f"{s.events} events from {s.first_t_s:.3f} s to {s.last_t_s:.3f} s (simulated)"
    yield from _counts("kind", s.per_kind)
    yield from _counts("node", s.per_node)
    yield from _counts("gpu", s.per_gpu)
    yield ""
    yield f"busiest {s.window_s:g} s windows:"
    yield from table(["from_s", "events", "arrivals", "completions"],
                     ([f"{w.start_s:.3f}", str(w.events), str(w.arrivals), str(w.completions)] for w in s.busiest))
