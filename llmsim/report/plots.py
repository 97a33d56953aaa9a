"""The report's figures, drawn with matplotlib (the optional `plot` extra) on the Agg backend."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np

from llmsim import plotting
from llmsim.kernel.clock import NS_PER_S
from llmsim.report.collect import RunData
from llmsim.report.series import Buckets, default_bucket_s

DPI = 110
MARKS = ((50, "p50", "tab:green", "--"), (90, "p90", "tab:orange", "-."), (99, "p99", "tab:red", ":"))
CHANGE_COLOR = "tab:purple"
SLO_COLOR = "black"
MAX_ROW_LABELS = 32
LATENCY_SAMPLES = 25  # requests per bucket, on average, behind each p50 / p99 point over time


matplotlib_available = plotting.available  # `llmsim report` checks it before reading the run


def _pyplot() -> Any:
    return plotting.pyplot("llmsim report")


def _save(fig: Any, path: Path) -> Path:
    plotting.save(fig, str(path), dpi=DPI)
    return path


def seconds_text(v_s: float) -> str:
    """A duration in the unit a reader expects: µs, ms or s, three significant digits."""
    if v_s < 1e-3:
        return f"{v_s * 1e6:.3g} µs"
    if v_s < 1.0:
        return f"{v_s * 1e3:.3g} ms"
    return f"{v_s:.3g} s"


def _seconds_axis(ax: Any, axis: str, lo: float, hi: float) -> None:
    """A log axis in seconds whose tick labels read 1 ms, 100 ms, 10 s (and 2, 5 between on short ranges)."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    target = ax.xaxis if axis == "x" else ax.yaxis
    subs = (1.0, 2.0, 5.0) if hi < lo * 30 else (1.0,)
    target.set_major_locator(LogLocator(base=10, subs=subs))
    target.set_major_formatter(FuncFormatter(lambda v, _pos: seconds_text(v) if v > 0 else ""))
    target.set_minor_formatter(NullFormatter())


def _mark_changes(ax: Any, data: RunData, label: bool = True) -> None:
    """A vertical line at each environment change, named at the top of the axes."""
    for e in data.env_changes:
        t = e.t_ns / NS_PER_S
        ax.axvline(t, color=CHANGE_COLOR, lw=1, ls="--", alpha=0.8)
        if label:
            ax.annotate(f"{'+' if e.amount > 0 else ''}{e.amount} {e.gpu_type} (node {e.node})", (t, 1.0),
                        xycoords=("data", "axes fraction"), xytext=(3, -3), textcoords="offset points",
                        fontsize=7, color=CHANGE_COLOR, va="top", rotation=90,
                        bbox={"boxstyle": "square,pad=0.1", "fc": "white", "ec": "none", "alpha": 0.75})


def _cdf(ax: Any, values_s: np.ndarray, title: str, slo_s: float | None) -> None:
    """Empirical CDF on a log time axis; p50/p90/p99 lines named in a box; the SLO target when given."""
    ax.set_title(title)
    ax.set_ylabel("fraction of requests")
    ax.grid(alpha=0.3, which="both")
    values_s = values_s[values_s > 0]
    if not len(values_s):
        ax.text(0.5, 0.5, "no samples", ha="center", va="center", transform=ax.transAxes)
        return
    x = np.sort(values_s)
    ax.plot(x, np.arange(1, len(x) + 1) / len(x), lw=1.8, color="tab:blue")
    ax.set_xscale("log")
    lines = []
    for q, name, color, style in MARKS:
        v = float(np.percentile(x, q))
        ax.axvline(v, color=color, ls=style, lw=1.2)
        ax.plot([v], [q / 100], "o", color=color, ms=4)
        lines.append(f"{name}  {seconds_text(v)}")
    if slo_s is not None:
        met = float(np.mean(x <= slo_s))
        ax.axvline(slo_s, color=SLO_COLOR, lw=1.6)
        lines.append(f"SLO  {seconds_text(slo_s)}: {met:.1%} met")
    ax.text(0.97, 0.04, "\n".join(lines), transform=ax.transAxes, va="bottom", ha="right", multialignment="left",
            fontsize=8.5,
            family="monospace", bbox={"boxstyle": "round", "fc": "white", "ec": "0.7", "alpha": 0.9})
    ax.set_ylim(0, 1.02)
    lo, hi = x[0], x[-1]
    if slo_s is not None:
        lo, hi = min(lo, slo_s), max(hi, slo_s)
    ax.set_xlim(lo / 1.5, hi * 1.5)
    _seconds_axis(ax, "x", lo / 1.5, hi * 1.5)


def latency_cdfs(data: RunData, path: Path, slo: dict[str, float | None]) -> Path:
    """TTFT, TPOT and end-to-end latency CDFs side by side (log time axes)."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(14, 4.2))
    _cdf(axes[0], np.asarray(data.ttft_s), "Time to first token", slo.get("ttft"))
    _cdf(axes[1], np.asarray(data.tpot_s), "Time per output token", slo.get("tpot"))
    _cdf(axes[2], np.asarray(data.e2e_s), "End-to-end latency", None)
    for ax in axes:
        ax.set_xlabel("latency (log scale)")
    fig.suptitle(f"Latency of the {data.completed} completed requests")
    return _save(fig, path)


def latency_over_time(data: RunData, buckets: Buckets, path: Path, slo: dict[str, float | None]) -> Path:
    """p50 and p99 TTFT and TPOT of the requests arriving in each bucket, with environment changes marked.

    Buckets hold LATENCY_SAMPLES requests on average (a p99 of fewer is one request's value).
    """
    plt = _pyplot()
    buckets = Buckets(data.end_ns, max(buckets.width_s, default_bucket_s(data.end_ns, data.completed, LATENCY_SAMPLES)))
    fig, axes = plt.subplots(2, 1, figsize=(11, 6.5), sharex=True)
    arrival = np.asarray(data.arrival_s)
    for ax, values, name, key in ((axes[0], np.asarray(data.ttft_s), "TTFT", "ttft"),
                                  (axes[1], np.asarray(data.tpot_all_s), "TPOT", "tpot")):
        keep = values > 0
        p = buckets.percentiles(arrival[keep], values[keep], (50.0, 99.0))
        t = buckets.starts_s + buckets.width_s / 2
        ax.plot(t, p[:, 0], color="tab:green", lw=1.4, marker=".", ms=3, label=f"{name} p50")
        ax.plot(t, p[:, 1], color="tab:red", lw=1.2, marker=".", ms=3, label=f"{name} p99")
        target = slo.get(key)
        if target is not None:
            ax.axhline(target, color=SLO_COLOR, lw=1.4, label=f"SLO {seconds_text(target)}")
        if np.isfinite(p).any():
            ax.set_yscale("log")
            shown = p[np.isfinite(p)]
            _seconds_axis(ax, "y", min(float(shown.min()), target or np.inf), max(float(shown.max()), target or 0.0))
        ax.set_ylabel(f"{name} (log scale)")
        ax.grid(alpha=0.3, which="both")
        ax.legend(loc="upper right", fontsize=8)
        _mark_changes(ax, data, label=ax is axes[0])
    axes[0].set_title(f"Latency by arrival time ({buckets.width_s:g} s buckets)")
    axes[1].set_xlabel("simulated time of arrival (s)")
    return _save(fig, path)


def throughput(data: RunData, buckets: Buckets, path: Path) -> Path:
    """Arrivals and completions (requests/s) and output tokens/s over time, environment changes marked."""
    plt = _pyplot()
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(11, 5.5), sharex=True)
    t = buckets.starts_s
    top.step(t, buckets.rate_per_s(data.arrivals), where="post", label="arrivals", lw=1, alpha=0.7)
    top.step(t, buckets.rate_per_s(data.completions), where="post", label="completions", lw=1.4)
    if data.failed:
        top.step(t, buckets.rate_per_s(data.failures), where="post", label="failures", lw=1, color="tab:red")
    top.set_ylabel("requests / s")
    top.legend(loc="upper right")
    top.set_title(f"Throughput ({buckets.width_s:g} s buckets)")
    bottom.step(t, buckets.rate_per_s(data.output_tokens), where="post", color="tab:green", lw=1.2)
    bottom.set_ylabel("output tokens / s")
    bottom.set_xlabel("simulated time (s)")
    for ax in (top, bottom):
        ax.grid(alpha=0.3)
        _mark_changes(ax, data, label=ax is top)
    return _save(fig, path)


def _natural(name: str) -> list[Any]:
    """n1/g10 after n1/g9."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def _heatmap(ax: Any, cax: Any, data: RunData, buckets: Buckets, which: int, label: str, cmap: str) -> None:
    """One row per GPU replica, one column per bucket; blank where the replica did not exist."""
    names = sorted(data.gpus, key=_natural)
    if not names:
        ax.text(0.5, 0.5, "no GPU iterations in this log", ha="center", va="center", transform=ax.transAxes)
        cax.set_axis_off()
        return
    grid = np.vstack([buckets.gpu_means(data.gpus[n])[which] for n in names])
    cm = _pyplot().get_cmap(cmap).with_extremes(bad="0.92")
    end = buckets.starts_s[-1] + buckets.width_s
    image = ax.imshow(np.ma.masked_invalid(grid), aspect="auto", interpolation="nearest", cmap=cm,
                      extent=(0.0, end, len(names), 0), vmin=0)
    step = max(1, -(-len(names) // MAX_ROW_LABELS))
    ax.set_yticks(np.arange(0, len(names), step) + 0.5, [names[i] for i in range(0, len(names), step)], fontsize=7)
    ax.set_ylabel("GPU replica")
    ax.figure.colorbar(image, cax=cax, label=label)
    _mark_changes(ax, data, label=False)


def _with_colorbar_column(rows: list[float], height: float) -> tuple[Any, list[Any], list[Any]]:
    """A figure of stacked axes sharing x, each with a narrow column on its right (for colour bars)."""
    plt = _pyplot()
    fig = plt.figure(figsize=(11, height), layout="constrained")
    grid = fig.add_gridspec(len(rows), 2, width_ratios=[60, 1], height_ratios=rows)
    axes: list[Any] = []
    for i in range(len(rows)):
        axes.append(fig.add_subplot(grid[i, 0], sharex=axes[0] if axes else None))
    side = [fig.add_subplot(grid[i, 1]) for i in range(len(rows))]
    return fig, axes, side


def queue_depth(data: RunData, buckets: Buckets, path: Path) -> Path:
    """Requests in the system over time, and a heat map of requests waiting at each GPU."""
    rows = max(1, len(data.gpus))
    fig, (top, bottom), (top_side, bottom_side) = _with_colorbar_column(
        [1.0, max(1.0, min(3.0, rows / 6))], 3.2 + min(6.0, 0.25 * rows + 1.2))
    top_side.set_axis_off()
    t = buckets.starts_s
    top.step(t, buckets.in_system(data), where="post", color="black", lw=1.6,
             label="in system (queued, loading or running)")
    waiting = sum(np.nan_to_num(buckets.gpu_means(g)[2]) for g in data.gpus.values()) if data.gpus else np.zeros_like(t)
    top.step(t, waiting, where="post", color="tab:orange", lw=1.2, label="waiting at GPUs (sum)")
    top.set_ylabel("requests")
    top.set_title("Queue depth")
    top.grid(alpha=0.3)
    top.legend(loc="upper right", fontsize=8)
    top.tick_params(labelbottom=False)
    _mark_changes(top, data)
    _heatmap(bottom, bottom_side, data, buckets, 2, "requests waiting", "Oranges")
    bottom.set_title("Requests waiting at each GPU (grey: replica not running)", fontsize=10)
    bottom.set_xlabel("simulated time (s)")
    return _save(fig, path)


def per_gpu(data: RunData, buckets: Buckets, path: Path, which: int, title: str, label: str) -> Path:
    """A heat map per GPU replica of KV use (which=0) or batch size (which=1)."""
    rows = max(1, len(data.gpus))
    fig, (ax,), (side,) = _with_colorbar_column([1.0], 1.6 + min(7.0, 0.25 * rows + 0.8))
    _heatmap(ax, side, data, buckets, which, label, "viridis")
    ax.set_title(f"{title} (grey: replica not running)")
    ax.set_xlabel("simulated time (s)")
    return _save(fig, path)
