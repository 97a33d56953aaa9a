"""summary.md: what ran, what users saw (latency, SLO attainment, goodput), per-GPU use, links to the plots."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
import numpy as np

from llmsim.kernel.clock import NS_PER_S
from llmsim.output.deployment import Deployment, header_lines
from llmsim.report.collect import RunData
from llmsim.report.plots import seconds_text

PERCENTILES = (50, 90, 99)


def _latency_row(name: str, values_s: np.ndarray) -> str:
    if not len(values_s):
        return f"| {name} | - | - | - | - |"
    p = [seconds_text(float(np.percentile(values_s, q))) for q in PERCENTILES]
    return f"| {name} | {seconds_text(float(np.mean(values_s)))} | " + " | ".join(p) + " |"


def _configuration(stats: dict[str, Any] | None) -> list[str]:
    """The run's 'what ran' lines, from stats.json's deployment section."""
    if not stats or "deployment" not in stats:
        return ["- (no stats.json with a `deployment` section beside the event log: configuration unknown)"]
    try:
        deployment = msgspec.convert(stats["deployment"], Deployment)
    except msgspec.ValidationError:
        return ["- (stats.json's `deployment` section is from another llmsim version)"]
    return [f"- {line}" for line in header_lines(deployment)]


def slo_lines(data: RunData, span_s: float, targets: dict[str, float | None]) -> list[str]:
    """SLO attainment (failed requests count as missed) and goodput, or why there are none."""
    ttft, tpot = targets.get("ttft"), targets.get("tpot")
    if ttft is None and tpot is None:
        return ["- SLO: no targets given (replay or report with `--slo ttft=0.5,tpot=0.05`)"]
    ok = np.ones(data.completed, dtype=bool)
    parts = []
    if ttft is not None:
        ok &= np.asarray(data.ttft_s) <= ttft
        parts.append(f"TTFT <= {ttft * 1e3:g} ms")
    if tpot is not None:
        ok &= np.asarray(data.tpot_all_s) <= tpot
        parts.append(f"TPOT <= {tpot * 1e3:g} ms")
    met, total = int(ok.sum()), data.completed + data.failed
    attainment = met / total if total else 0.0
    return [f"- SLO {', '.join(parts)}: **{attainment:.1%}** of requests met it ({met} of {total}; failed requests miss)",
            f"- goodput: **{met / span_s if span_s else 0:.2f} requests/s** meeting the SLO"]


def summary_markdown(data: RunData, source: Path, plots: list[Path], stats: dict[str, Any] | None = None,
                     targets: dict[str, float | None] | None = None) -> str:
    """The Markdown text."""
    span_s = data.end_ns / NS_PER_S
    out_tokens = sum(data.output_tokens.values())
    lines = [
        f"# Run report: {source}", "", "## Configuration", "",
        *_configuration(stats), "", "## Results", "",
        f"- requests: {data.completed} completed, {data.failed} failed"
        + (f" ({dict(data.failed_by_reason)})" if data.failed else "") + f", {data.preemptions} preemptions",
        f"- simulated span: {span_s:.2f} s",
        f"- throughput: {data.completed / span_s if span_s else 0:.2f} requests/s, "
        f"{out_tokens / span_s if span_s else 0:.0f} output tokens/s",
        *slo_lines(data, span_s, targets or {}),
        *(f"- environment change at {e.t_ns / NS_PER_S:.2f} s: {e.amount:+d} {e.gpu_type} on node {e.node}"
          for e in data.env_changes), "",
        "| latency | mean | p50 | p90 | p99 |", "|---|---|---|---|---|",
        _latency_row("TTFT", np.asarray(data.ttft_s)),
        _latency_row("TPOT", np.asarray(data.tpot_s)),
        _latency_row("E2E", np.asarray(data.e2e_s)), "",
        "| GPU | busy | iterations | removed at |", "|---|---|---|---|",
    ]
    for name in sorted(data.gpus):
        g = data.gpus[name]
        busy = g.busy_ns / data.end_ns if data.end_ns else 0.0
        removed = f"{g.removed_ns / NS_PER_S:.2f} s" if g.removed_ns is not None else "-"
        lines.append(f"| {name} | {busy:.1%} | {g.iterations} | {removed} |")
    lines += ["", "## Plots", ""]
    lines += [f"![{p.stem}]({p.name})" for p in plots]
    return "\n".join(lines) + "\n"
