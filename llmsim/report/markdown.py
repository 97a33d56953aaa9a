"""summary.md: the run in a few lines and tables, linking the plots beside it."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from llmsim.kernel.clock import NS_PER_S
from llmsim.report.collect import RunData

PERCENTILES = (50, 90, 99)


def _latency_row(name: str, values_s: np.ndarray, scale: float) -> str:
    if not len(values_s):
        return f"| {name} | - | - | - | - |"
    p = [f"{np.percentile(values_s, q) * scale:.3g}" for q in PERCENTILES]
    return f"| {name} | {np.mean(values_s) * scale:.3g} | " + " | ".join(p) + " |"


def summary_markdown(data: RunData, source: Path, plots: list[Path]) -> str:
    """The Markdown text."""
    span_s = data.end_ns / NS_PER_S
    out_tokens = sum(data.output_tokens.values())
    lines = [
        f"# Run report: {source}", "",
        f"- requests: {data.completed} completed, {data.failed} failed"
        + (f" ({dict(data.failed_by_reason)})" if data.failed else "") + f", {data.preemptions} preemptions",
        f"- simulated span: {span_s:.2f} s",
        f"- throughput: {data.completed / span_s if span_s else 0:.2f} requests/s, "
        f"{out_tokens / span_s if span_s else 0:.0f} output tokens/s", "",
        "| latency | mean | p50 | p90 | p99 |", "|---|---|---|---|---|",
        _latency_row("TTFT (ms)", np.asarray(data.ttft_s), 1e3),
        _latency_row("TPOT (ms)", np.asarray(data.tpot_s), 1e3),
        _latency_row("E2E (s)", np.asarray(data.e2e_s), 1.0), "",
        "| GPU | busy | iterations |", "|---|---|---|",
    ]
    for name in sorted(data.gpus):
        g = data.gpus[name]
        busy = g.busy_ns / data.end_ns if data.end_ns else 0.0
        lines.append(f"| {name} | {busy:.1%} | {g.iterations} |")
    lines += ["", "## Plots", ""]
    lines += [f"![{p.stem}]({p.name})" for p in plots]
    return "\n".join(lines) + "\n"
