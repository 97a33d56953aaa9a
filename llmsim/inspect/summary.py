"""`llmsim events RUN summary`: counts per kind, node and GPU, and the busiest moments of a run."""

from __future__ import annotations

import heapq
from collections import Counter
from pathlib import Path

import msgspec

from llmsim.inspect.filter import kind_of
from llmsim.inspect.source import stream_events
from llmsim.kernel.clock import NS_PER_S

BUSIEST_SHOWN = 5


class Window(msgspec.Struct, frozen=True, kw_only=True):
    """One window of simulated time and what happened in it."""

    start_s: float
    events: int
    arrivals: int
    completions: int


class Summary(msgspec.Struct, kw_only=True):
    """Counts over the whole log (memory grows with kinds, GPUs and windows, never with events)."""

    events: int
    first_t_s: float
    last_t_s: float
    per_kind: dict[str, int]
    per_node: dict[str, int]
    per_gpu: dict[str, int]
    window_s: float
    busiest: list[Window]


def summarize(path: Path, window_s: float = 1.0) -> Summary:
    """Stream the log once and count."""
    kinds: Counter[str] = Counter()
    nodes: Counter[str] = Counter()
    gpus: Counter[str] = Counter()
    windows: dict[int, list[int]] = {}  # window index -> [events, arrivals, completions]
    window_ns = max(1, int(window_s * NS_PER_S))
    first_ns = last_ns = 0
    total = 0
    for event in stream_events(path):
        kind = kind_of(event)
        kinds[kind] += 1
        if (node := getattr(event, "node", None)) is not None:
            nodes[str(node)] += 1
        if (gpu := getattr(event, "replica", None)) is not None:
            gpus[gpu] += 1
        slot = windows.setdefault(event.t_ns // window_ns, [0, 0, 0])
        slot[0] += 1
        slot[1] += kind == "request_arrived"
        slot[2] += kind == "request_completed"
        first_ns = event.t_ns if total == 0 else min(first_ns, event.t_ns)
        last_ns = max(last_ns, event.t_ns)
        total += 1
    top = heapq.nlargest(BUSIEST_SHOWN, windows.items(), key=lambda kv: (kv[1][0], -kv[0]))
    busiest = [Window(start_s=i * window_ns / NS_PER_S, events=c[0], arrivals=c[1], completions=c[2]) for i, c in top]
    return Summary(events=total, first_t_s=first_ns / NS_PER_S, last_t_s=last_ns / NS_PER_S,
                   per_kind=dict(kinds.most_common()), per_node=dict(sorted(nodes.items())),
                   per_gpu=dict(sorted(gpus.items())), window_s=window_s, busiest=busiest)
