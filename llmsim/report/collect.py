"""One streaming pass over events.jsonl into latency samples and fine-grained time series."""

from __future__ import annotations

from array import array
from collections import defaultdict
from pathlib import Path

from llmsim.inspect.source import stream_events
from llmsim.kernel.clock import NS_PER_S
from llmsim.output.events import (
    EnvironmentChanged, IterationRun, ReplicaRemoved, RequestArrived, RequestCompleted, RequestFailed,
)

BIN_NS = 100_000_000  # 0.1 s: fine bins, merged into coarser plot buckets later


class GpuSeries:
    """Per 0.1 s bin of one GPU: busy-time-weighted sums of KV use, batch size and waiting requests."""

    def __init__(self) -> None:
        self.bins: dict[int, list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0, 0.0])  # kv%, batch, waiting, weight
        self.busy_ns = 0
        self.iterations = 0
        self.removed_ns: int | None = None  # when the replica was removed (its series end there)

    def add(self, e: IterationRun) -> None:
        """Spread a run of iterations over every bin it overlaps, weighted by the overlap."""
        kv_pct = 100.0 * e.kv_used_blocks / e.kv_total_blocks if e.kv_total_blocks else 0.0
        for b in range(e.start_ns // BIN_NS, e.t_ns // BIN_NS + 1):
            weight = min(e.t_ns, (b + 1) * BIN_NS) - max(e.start_ns, b * BIN_NS)
            if weight <= 0 and e.t_ns > e.start_ns:
                continue
            weight = max(weight, 1)
            acc = self.bins[b]
            acc[0] += kv_pct * weight
            acc[1] += e.batch_size * weight
            acc[2] += e.waiting * weight
            acc[3] += weight
        self.busy_ns += e.t_ns - e.start_ns
        self.iterations += e.iterations


class RunData:
    """What the report needs; memory grows with requests (3 floats each) and 0.1 s bins, not events."""

    def __init__(self) -> None:
        self.ttft_s = array("d")
        self.tpot_s = array("d")  # requests of more than one output token only
        self.tpot_all_s = array("d")  # every completed request (0 for one output token): SLO checks
        self.e2e_s = array("d")
        self.arrival_s = array("d")  # of completed requests, in the order of the arrays above
        self.arrivals: dict[int, int] = defaultdict(int)
        self.completions: dict[int, int] = defaultdict(int)
        self.output_tokens: dict[int, int] = defaultdict(int)
        self.failures: dict[int, int] = defaultdict(int)
        self.failed_by_reason: dict[str, int] = defaultdict(int)
        self.preemptions = 0
        self.gpus: dict[str, GpuSeries] = defaultdict(GpuSeries)
        self.env_changes: list[EnvironmentChanged] = []
        self.end_ns = 0

    @property
    def completed(self) -> int:
        return len(self.e2e_s)

    @property
    def failed(self) -> int:
        return sum(self.failed_by_reason.values())

    def add(self, event: object) -> None:
        """Fold one event in."""
        if isinstance(event, IterationRun):
            self.gpus[event.replica].add(event)
        elif isinstance(event, RequestArrived):
            self.arrivals[event.t_ns // BIN_NS] += 1
        elif isinstance(event, RequestCompleted):
            self._completed(event)
        elif isinstance(event, RequestFailed):
            self.failed_by_reason[event.reason] += 1
            self.failures[event.t_ns // BIN_NS] += 1
        elif isinstance(event, EnvironmentChanged):
            self.env_changes.append(event)
        elif isinstance(event, ReplicaRemoved):
            self.gpus[event.replica].removed_ns = event.t_ns
        self.end_ns = max(self.end_ns, getattr(event, "t_ns", 0))

    def _completed(self, e: RequestCompleted) -> None:
        self.ttft_s.append((e.first_token_ns - e.arrival_ns) / NS_PER_S)
        self.e2e_s.append((e.t_ns - e.arrival_ns) / NS_PER_S)
        self.arrival_s.append(e.arrival_ns / NS_PER_S)
        tpot = (e.t_ns - e.first_token_ns) / NS_PER_S / (e.output_tokens - 1) if e.output_tokens > 1 else 0.0
        self.tpot_all_s.append(tpot)
        if e.output_tokens > 1:
            self.tpot_s.append(tpot)
        self.completions[e.t_ns // BIN_NS] += 1
        self.output_tokens[e.t_ns // BIN_NS] += e.output_tokens
        self.preemptions += e.preemptions


def collect(path: Path) -> RunData:
    """Stream the event log once."""
    data = RunData()
    for event in stream_events(path):
        data.add(event)
    return data
