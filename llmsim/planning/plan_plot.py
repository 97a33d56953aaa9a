"""`llmsim plan --plot`: cost per hour against the first SLO statistic, every probe, with the SLO line."""

from __future__ import annotations

from collections.abc import Sequence

from llmsim import plotting
from llmsim.planning.plan import Criterion, PlanResult
from llmsim.planning.prices import cluster_cost_per_hour, load_prices


def plot_plan(result: PlanResult, criteria: Sequence[Criterion], path: str, prices: str | None = None) -> None:
    """One marker per configuration run (filled: met the SLOs), one colour per GPU type × TP."""
    plt = plotting.pyplot("--plot", field="--plot")
    table = load_prices(prices)
    metric = next((c for c in criteria if c.stat), None)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    groups = sorted({(p["hardware"], p["tp"]) for p in result.probes})
    for i, (gpu, tp) in enumerate(groups):
        xs, ys, ok = [], [], []
        for p in result.probes:
            stats = p["stats"]
            if (p["hardware"], p["tp"]) != (gpu, tp) or not stats:
                continue
            cost = cluster_cost_per_hour(stats["run"]["cluster"]["gpus"], table)
            if cost is None:
                continue
            xs.append(cost)
            ys.append(stats["latency"][f"{metric.metric}_s"][metric.stat] if metric else stats["slo"]["attainment"])
            ok.append(p["passed"])
        if not xs:  # nothing ran to the end (the model does not fit): no legend entry
            continue
        colour = f"C{i % 10}"
        ax.scatter([x for x, g in zip(xs, ok) if g], [y for y, g in zip(ys, ok) if g], color=colour,
                   label=f"{gpu} TP{tp}")
        ax.scatter([x for x, g in zip(xs, ok) if not g], [y for y, g in zip(ys, ok) if not g],
                   facecolors="none", edgecolors=colour)
    if metric:
        ax.axhline(metric.limit, color="black", linestyle="--", linewidth=1, label=f"SLO {metric.name} = {metric.limit:g} s")
        ax.set_yscale("log")
    ax.set_xlabel("cluster cost, USD per hour")
    ax.set_ylabel(f"{metric.name} (s)" if metric else "SLO attainment")
    ax.set_title("llmsim plan: configurations run (filled = met every SLO)")
    ax.legend(fontsize=8)
    plotting.save(fig, path, dpi=120)
