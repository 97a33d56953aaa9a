"""The report's figures, drawn with matplotlib (the optional `plot` extra) on the Agg backend."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from llmsim import plotting
from llmsim.report.collect import RunData
from llmsim.report.series import Buckets

DPI = 110


matplotlib_available = plotting.available  # `llmsim report` checks it before reading the run


def _pyplot() -> Any:
    return plotting.pyplot("llmsim report")


def _save(fig: Any, path: Path) -> Path:
    plotting.save(fig, str(path), dpi=DPI)
    return path


def _cdf(ax: Any, values_s: np.ndarray, title: str, unit_scale: float, unit: str) -> None:
    ax.set_title(title)
    ax.set_xlabel(unit)
    ax.set_ylabel("fraction of requests")
    ax.grid(alpha=0.3)
    if not len(values_s):
        ax.text(0.5, 0.5, "no samples", ha="center", va="center", transform=ax.transAxes)
        return
    x = np.sort(values_s) * unit_scale
    ax.plot(x, np.arange(1, len(x) + 1) / len(x), lw=1.6)
    for q, style in ((50, "--"), (99, ":")):
        v = float(np.percentile(x, q))
        ax.axvline(v, color="grey", ls=style, lw=1)
        ax.annotate(f"p{q} {v:.3g}", (v, 0.02 if q == 50 else 0.12), rotation=90, fontsize=8, ha="right")
    ax.set_ylim(0, 1.01)


def latency_cdfs(data: RunData, path: Path) -> Path:
    """TTFT, TPOT and end-to-end latency CDFs side by side."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    _cdf(axes[0], np.asarray(data.ttft_s), "Time to first token", 1e3, "ms")
    _cdf(axes[1], np.asarray(data.tpot_s), "Time per output token", 1e3, "ms")
    _cdf(axes[2], np.asarray(data.e2e_s), "End-to-end latency", 1.0, "s")
    return _save(fig, path)


def throughput(data: RunData, buckets: Buckets, path: Path) -> Path:
    """Arrivals and completions (requests/s) and output tokens/s over time."""
    plt = _pyplot()
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(11, 5.5), sharex=True)
    t = buckets.starts_s
    top.step(t, buckets.rate_per_s(data.arrivals), where="post", label="arrivals", lw=1, alpha=0.7)
    top.step(t, buckets.rate_per_s(data.completions), where="post", label="completions", lw=1.4)
    top.set_ylabel("requests / s")
    top.legend(loc="upper right")
    top.set_title(f"Throughput ({buckets.width_s:g} s buckets)")
    bottom.step(t, buckets.rate_per_s(data.output_tokens), where="post", color="tab:green", lw=1.2)
    bottom.set_ylabel("output tokens / s")
    bottom.set_xlabel("simulated time (s)")
    for ax in (top, bottom):
        ax.grid(alpha=0.3)
    return _save(fig, path)


def queue_depth(data: RunData, buckets: Buckets, path: Path) -> Path:
    """Requests waiting at each GPU, and requests in the system (arrived, not finished)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(11, 4))
    t = buckets.starts_s
    ax.plot(t, buckets.in_system(data), color="black", lw=1.6, label="in system (queued, loading or running)")
    for name in sorted(data.gpus):
        _, _, waiting = buckets.gpu_means(data.gpus[name])
        ax.plot(t, waiting, lw=1, label=f"waiting at {name}")
    ax.set_title("Queue depth")
    ax.set_xlabel("simulated time (s)")
    ax.set_ylabel("requests")
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize=8, ncol=2)
    return _save(fig, path)


def per_gpu(data: RunData, buckets: Buckets, path: Path, which: int, title: str, ylabel: str) -> Path:
    """One line per GPU of KV use (which=0) or batch size (which=1)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(11, 4))
    for name in sorted(data.gpus):
        ax.plot(buckets.starts_s, buckets.gpu_means(data.gpus[name])[which], lw=1, label=name)
    if not data.gpus:
        ax.text(0.5, 0.5, "no GPU iterations in this log", ha="center", va="center", transform=ax.transAxes)
    ax.set_title(title)
    ax.set_xlabel("simulated time (s)")
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    if data.gpus:
        ax.legend(loc="best", fontsize=8, ncol=2)
    return _save(fig, path)
