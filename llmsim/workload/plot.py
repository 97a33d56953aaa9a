"""Optional PNG of a trace: arrival rate over time and token-length histograms (needs matplotlib)."""

from __future__ import annotations

import numpy as np

from llmsim import plotting
from llmsim.workload.stats import rate_series


def require_matplotlib() -> None:
    """Raise a one-line UsageError when matplotlib cannot be imported."""
    plotting.require("--plot")


def plot_trace(path: str, offsets_s: np.ndarray | None, inputs: np.ndarray, outputs: np.ndarray, title: str) -> None:
    """Write a PNG: requests per second and per minute over time, then length histograms."""
    plt = plotting.pyplot("--plot")

    fig, (ax_rate, ax_in, ax_out) = plt.subplots(3, 1, figsize=(9, 10))
    if offsets_s is not None and offsets_s.size:
        per_s = rate_series(offsets_s, 1.0)
        per_min = rate_series(offsets_s, 60.0) / 60.0
        ax_rate.plot(np.arange(per_s.size), per_s, lw=0.5, label="per second")
        ax_rate.step(np.arange(per_min.size) * 60.0, per_min, where="post", label="per-minute mean")
        ax_rate.legend()
    ax_rate.set(title=title, xlabel="time since first arrival (s)", ylabel="requests / s")
    for ax, values, name in ((ax_in, inputs, "input tokens"), (ax_out, outputs, "output tokens")):
        positive = values[values > 0]
        bins = np.geomspace(1, max(2, int(positive.max(initial=2))), 60)
        ax.hist(positive, bins=bins)
        ax.set(xscale="log", xlabel=name, ylabel="requests")
    plotting.save(fig, path, dpi=110)
