"""Write a run's report folder: the PNG plots and summary.md."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from llmsim.errors import OutputError
from llmsim.output.atomic_file import atomic_output, check_output_file
from llmsim.report import plots
from llmsim.report.collect import collect
from llmsim.report.markdown import summary_markdown
from llmsim.report.series import Buckets, default_bucket_s


REPORT_FILES = ("latency_cdf.png", "latency_over_time.png", "throughput.png", "queue_depth.png", "kv_use.png",
                "batch_size.png", "summary.md")


def run_stats(events: Path) -> dict[str, Any] | None:
    """The run's stats.json beside its event log, when there is one (configuration and SLO targets)."""
    path = events.parent / "stats.json"
    try:
        stats = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return None
    return stats if isinstance(stats, dict) else None


def slo_targets(stats: dict[str, Any] | None, given: dict[str, float] | None) -> dict[str, float | None]:
    """SLO targets: --slo when given, else those the run was replayed with (stats.json), else none."""
    if given is not None:
        return {"ttft": given.get("ttft"), "tpot": given.get("tpot")}
    slo = (stats or {}).get("slo") or {}
    return {"ttft": slo.get("ttft_s"), "tpot": slo.get("tpot_s")}


def write_report(events: Path, out_dir: Path, bucket_s: float | None = None,
                 slo: dict[str, float] | None = None) -> list[Path]:
    """Stream the event log once, draw every plot, write summary.md; return the files written."""
    for name in REPORT_FILES:  # refuse links and the event log itself before drawing anything
        check_output_file(out_dir / name, "--output-dir", [("RUN", str(events))])
    data = collect(events)
    stats = run_stats(events)
    targets = slo_targets(stats, slo)
    buckets = Buckets(data.end_ns, bucket_s or default_bucket_s(data.end_ns, data.completed + data.failed))
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise OutputError(f"cannot create the report folder: {err.strerror}", file=str(out_dir)) from None
    written = [
        plots.latency_cdfs(data, out_dir / "latency_cdf.png", targets),
        plots.latency_over_time(data, buckets, out_dir / "latency_over_time.png", targets),
        plots.throughput(data, buckets, out_dir / "throughput.png"),
        plots.queue_depth(data, buckets, out_dir / "queue_depth.png"),
        plots.per_gpu(data, buckets, out_dir / "kv_use.png", 0, "KV cache use per GPU", "% of KV blocks used"),
        plots.per_gpu(data, buckets, out_dir / "batch_size.png", 1, "Batch size per GPU", "sequences per iteration"),
    ]
    summary = out_dir / "summary.md"
    with atomic_output(summary, "--output-dir", [("RUN", str(events))]) as handle:
        handle.write(summary_markdown(data, events, written, stats, targets).encode("utf-8"))
    return [*written, summary]
