"""Write a run's report folder: the PNG plots and summary.md."""

from __future__ import annotations

from pathlib import Path

from llmsim.errors import OutputError
from llmsim.output.atomic_file import atomic_output, check_output_file
from llmsim.report import plots
from llmsim.report.collect import collect
from llmsim.report.markdown import summary_markdown
from llmsim.report.series import Buckets, default_bucket_s


REPORT_FILES = ("latency_cdf.png", "throughput.png", "queue_depth.png", "kv_use.png", "batch_size.png", "summary.md")


def write_report(events: Path, out_dir: Path, bucket_s: float | None = None) -> list[Path]:
    """Stream the event log once, draw every plot, write summary.md; return the files written."""
    for name in REPORT_FILES:  # refuse links and the event log itself before drawing anything
        check_output_file(out_dir / name, "--output-dir", [("RUN", str(events))])
    data = collect(events)
    buckets = Buckets(data.end_ns, bucket_s or default_bucket_s(data.end_ns))
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise OutputError(f"cannot create the report folder: {err.strerror}", file=str(out_dir)) from None
    written = [
        plots.latency_cdfs(data, out_dir / "latency_cdf.png"),
        plots.throughput(data, buckets, out_dir / "throughput.png"),
        plots.queue_depth(data, buckets, out_dir / "queue_depth.png"),
        plots.per_gpu(data, buckets, out_dir / "kv_use.png", 0, "KV cache use per GPU", "% of KV blocks used"),
        plots.per_gpu(data, buckets, out_dir / "batch_size.png", 1, "Batch size per GPU", "sequences per iteration"),
    ]
    summary = out_dir / "summary.md"
    with atomic_output(summary, "--output-dir", [("RUN", str(events))]) as handle:
        handle.write(summary_markdown(data, events, written).encode("utf-8"))
    return [*written, summary]
