"""What each output costs alone: replay once capturing every event, then feed them to each sink.

    .venv/bin/python scripts/bench_sinks.py --input TRACE.jsonl --gpus 32 [--limit 30000] [--repeat 3]

The replay runs with outputs off and a capturing sink; then every sink (Chrome trace at each
detail, events.jsonl, requests.jsonl, the stats collector) gets the captured events in order,
alone, into a temporary folder, and the best of `--repeat` passes is printed as microseconds per
request. A sink's cost inside a real run is higher (cache and allocator pressure of the loop), so
compare these numbers with each other and across commits, not with `scripts/bench.py`.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def capture(trace: str, gpus: int, limit: int | None, model: str, hardware: str) -> list[Any]:
    """Every event of one replay (outputs off), in emission order."""
    import llmsim.replay as replay
    from llmsim.kernel import Simulation
    from llmsim.options import ReplayOptions

    events: list[Any] = []
    real = replay.Simulation
    replay.Simulation = lambda seed=0, sinks=(): Simulation(seed, [*sinks, events.append])  # type: ignore[misc]
    try:
        replay.run_replay(ReplayOptions(input=trace, n_engines=gpus, hardware=hardware, model=model, limit=limit,
                                        quiet=True, write_outputs=False, seed=7))
    finally:
        replay.Simulation = real  # type: ignore[misc]
    return events


def sinks(folder: Path) -> dict[str, Callable[[], Any]]:
    """Fresh sinks by name."""
    from llmsim.output.chrome_trace import ChromeTraceWriter
    from llmsim.output.event_log import EventLogWriter
    from llmsim.output.requests_log import RequestsWriter
    from llmsim.output.stats import StatsCollector

    return {
        "trace (requests)": lambda: ChromeTraceWriter(folder / "trace.json", detail="requests"),
        "trace (auto)": lambda: ChromeTraceWriter(folder / "trace.json", detail="auto"),
        "trace (iterations)": lambda: ChromeTraceWriter(folder / "trace.json", detail="iterations"),
        "events.jsonl": lambda: EventLogWriter(folder / "events.jsonl"),
        "requests.jsonl": lambda: RequestsWriter(folder / "requests.jsonl"),
        "stats": lambda: StatsCollector(None, None),
    }


def feed(sink: Any, events: list[Any]) -> float:
    """Seconds to hand every event to the sink as Simulation.emit would, and close it."""
    handlers = getattr(sink, "handlers", None)
    start = time.perf_counter()
    if handlers is None:
        for event in events:
            sink(event)
    else:
        for event in events:
            handler = handlers.get(type(event))
            if handler is not None:
                handler(event)
    close = getattr(sink, "close", None)
    if close is not None:
        close()
    return time.perf_counter() - start


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--input", required=True, help="trace file (any format llmsim reads)")
    p.add_argument("--gpus", type=int, default=8)
    p.add_argument("--limit", type=int, default=None)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--model", default="llama-3.1-8b-instruct")
    p.add_argument("--hardware", default="nvidia_A100_80G_SXM")
    args = p.parse_args(argv)
    from llmsim.buildinfo import describe
    from llmsim.output.events import RequestArrived

    events = capture(args.input, args.gpus, args.limit, args.model, args.hardware)
    requests = sum(1 for e in events if isinstance(e, RequestArrived)) or 1
    kinds = Counter(type(e).__name__ for e in events)
    print(f"build: {describe()}")
    print(f"{len(events):,} events of {requests:,} requests: "
          + ", ".join(f"{name} {count:,}" for name, count in kinds.most_common(6)))
    with tempfile.TemporaryDirectory() as tmp:
        for name, make in sinks(Path(tmp)).items():
            best = min(feed(make(), events) for _ in range(args.repeat))
            print(f"{name:<20} {best:7.3f} s  {best / requests * 1e6:6.1f} µs per request")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
