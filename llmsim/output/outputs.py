"""The output folder of a run: opens the writers (sinks) and closes them, even on errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from llmsim.errors import OutputError
from llmsim.output.chrome_trace import DEFAULT_DETAIL, ChromeTraceWriter
from llmsim.output.event_log import EventLogWriter
from llmsim.output.requests_log import RequestsWriter


def _path(out_dir: Path, given: str | None, default: str) -> Path:
    return Path(given) if given else out_dir / default


class OutputSet:
    """events.jsonl, requests.jsonl, trace.json and stats.json of one run."""

    def __init__(self, out_dir: str, *, enabled: bool = True, trace_detail: str = DEFAULT_DETAIL,
                 trace_output: str | None = None, stats_output: str | None = None,
                 events_output: str | None = None, requests_output: str | None = None) -> None:
        self.dir = Path(out_dir)
        self.events_path = _path(self.dir, events_output, "events.jsonl")
        self.requests_path = _path(self.dir, requests_output, "requests.jsonl")
        self.trace_path = _path(self.dir, trace_output, "trace.json")
        self.stats_path = _path(self.dir, stats_output, "stats.json")
        self.sinks: list[Any] = []
        if not enabled:
            return
        try:
            for p in (self.events_path, self.requests_path, self.trace_path, self.stats_path):
                p.parent.mkdir(parents=True, exist_ok=True)
            self.sinks.append(EventLogWriter(self.events_path))
            self.sinks.append(RequestsWriter(self.requests_path))
            if trace_detail != "off":
                self.sinks.append(ChromeTraceWriter(self.trace_path, detail=trace_detail))
        except OSError as err:
            self.close()
            raise OutputError(f"cannot write output: {err.strerror}", file=str(err.filename or self.dir)) from None

    def close(self) -> None:
        """Flush and close every writer (whole lines, valid JSON)."""
        for sink in self.sinks:
            sink.close()
        self.sinks = []

    def write_stats(self, stats: dict[str, Any]) -> None:
        """Write stats.json (pretty, stable key order)."""
        try:
            self.stats_path.parent.mkdir(parents=True, exist_ok=True)
            self.stats_path.write_bytes(orjson.dumps(stats, option=orjson.OPT_INDENT_2) + b"\n")
        except OSError as err:
            raise OutputError(f"cannot write stats: {err.strerror}", file=str(self.stats_path)) from None
