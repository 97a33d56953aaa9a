"""The validation report: per-row table, MAPE per group, JSON and CSV documents, the scatter plot."""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Callable, Sequence
from typing import Any

from llmsim.validation.evaluate import Result

GROUPS: dict[str, Callable[[Result], str]] = {
    "source": lambda r: r.point.source,
    "gpu": lambda r: r.scenario.hardware,
    "model class": lambda r: r.model_class,
    "metric family": lambda r: r.family,
}
CSV_COLUMNS = ("line", "source", "model", "gpu", "tp", "model_class", "metric", "family", "predicted", "measured",
               "error_pct", "conditions", "note")


def mape_by(results: Sequence[Result], key: Callable[[Result], str]) -> dict[str, dict[str, float]]:
    """{group: {"mape_pct", "n"}} over the rows with a prediction, groups in first-seen order."""
    groups: dict[str, list[float]] = {}
    for r in results:
        if r.ok:
            groups.setdefault(key(r), []).append(abs(r.error_pct))
    return {name: {"mape_pct": sum(errs) / len(errs), "n": len(errs)} for name, errs in groups.items()}


def summary(results: Sequence[Result], calibration: str, left_out: Sequence[str] = ()) -> dict[str, Any]:
    """The JSON document: every row, the MAPE of every group, and the rows left out (why, one line each)."""
    ok = [abs(r.error_pct) for r in results if r.ok]
    return {
        "calibration": calibration,
        "points": [_row(r) for r in results],
        "left_out": list(left_out),
        "mape": {name: mape_by(results, key) for name, key in GROUPS.items()},
        "overall": {"mape_pct": sum(ok) / len(ok) if ok else math.nan, "n": len(ok),
                    "unpredicted": len(results) - len(ok)},
    }


def _row(r: Result) -> dict[str, Any]:
    return {"line": r.point.line, "source": r.point.source, "model": r.scenario.model, "gpu": r.scenario.hardware,
            "tp": r.scenario.tp, "model_class": r.model_class, "metric": r.point.metric, "family": r.family,
            "predicted": r.predicted if r.ok else None, "measured": r.point.value,
            "error_pct": r.error_pct if r.ok else None, "conditions": r.scenario.conditions, "note": r.note}


def csv_text(results: Sequence[Result]) -> str:
    """One CSV row per point (empty predicted / error where nothing was predicted)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for r in results:
        row = _row(r)
        writer.writerow({k: ("" if row[k] is None else row[k]) for k in CSV_COLUMNS})
    return out.getvalue()


def table_lines(results: Sequence[Result], calibration: str) -> list[str]:
    """The human report: a line per point, then MAPE per source, GPU, model class and metric family."""
    head = (f"{'line':>4}  {'source':<19} {'model':<25} {'GPU':<19} {'TP':>2}  {'metric':<24} "
            f"{'predicted':>10} {'measured':>10} {'error':>8}  conditions")
    lines = [f"calibration: {calibration}", head]
    for r in results:
        err = f"{r.error_pct:+7.1f}%" if r.ok else "     n/a"
        pred = f"{r.predicted:10.4g}" if r.ok else f"{'n/a':>10}"
        note = f"  [{r.note}]" if r.note else ""
        lines.append(f"{r.point.line:>4}  {r.point.source:<19} {r.scenario.model:<25} {r.scenario.hardware:<19} "
                     f"{r.scenario.tp:>2}  {r.point.metric:<24} {pred} {r.point.value:10.4g} {err}  "
                     f"{r.scenario.conditions}{note}")
    for name, key in GROUPS.items():
        lines += ["", f"MAPE by {name}:"]
        lines += [f"  {group:<28} {v['mape_pct']:7.1f}%  (n={v['n']})" for group, v in mape_by(results, key).items()]
    doc = summary(results, calibration)["overall"]
    lines += ["", f"overall MAPE {doc['mape_pct']:.1f}% over {doc['n']} points"
              + (f"; {doc['unpredicted']} without a prediction" if doc["unpredicted"] else "")]
    return lines


def plot(results: Sequence[Result], path: str, calibration: str) -> None:
    """Predicted vs measured, log-log, one colour per metric family, y = x and the +-10 % band."""
    from llmsim import plotting

    plt = plotting.pyplot("--plot", field="--plot")
    shown = [r for r in results if r.ok]
    fig, ax = plt.subplots(figsize=(6.5, 6))
    for family in dict.fromkeys(r.family for r in shown):
        rows = [r for r in shown if r.family == family]
        ax.scatter([r.point.value for r in rows], [r.predicted for r in rows], label=family, s=28)
    values = [v for r in shown for v in (r.point.value, r.predicted)] or [1.0]
    low, high = min(values) / 1.5, max(values) * 1.5
    line = [low, high]
    ax.plot(line, line, color="black", linewidth=1, label="y = x")
    ax.fill_between(line, [v * 0.9 for v in line], [v * 1.1 for v in line], color="grey", alpha=0.25,
                    label="+-10 %")
    ax.set(xscale="log", yscale="log", xlim=line, ylim=line, xlabel="measured (unit of each metric)",
           ylabel="predicted by llmsim", title=f"llmsim validate ({calibration})")
    ax.legend(fontsize=8)
    plotting.save(fig, path, dpi=120)
