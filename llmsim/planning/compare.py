"""`llmsim compare`: key statistics of several runs side by side, differences in % and what configuration differed."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import msgspec
import orjson

from llmsim.errors import InputFileError
from llmsim.planning.runner import OUTPUT_FIELDS


class Run(msgspec.Struct):
    """One run folder (or stats.json) and its statistics."""

    label: str
    folder: Path
    stats: dict[str, Any]


def load_run(path: str) -> Run:
    """A run from its folder or its stats.json; a missing or unreadable one is a one-line error."""
    given = Path(path)
    stats_path = given / "stats.json" if given.is_dir() else given
    try:
        stats = orjson.loads(stats_path.read_bytes())
    except OSError as err:
        raise InputFileError(f"not a run: cannot read stats.json ({err.strerror})", file=str(stats_path)) from None
    except orjson.JSONDecodeError as err:
        raise InputFileError(f"stats.json is not JSON: {err}", file=str(stats_path)) from None
    if not isinstance(stats, dict) or "latency" not in stats or "requests" not in stats:
        raise InputFileError("not an llmsim stats.json (no latency/requests sections)", file=str(stats_path))
    return Run(label=path, folder=stats_path.parent, stats=stats)


def _lat(metric: str, stat: str) -> Callable[[dict[str, Any]], float]:
    return lambda s: s["latency"][f"{metric}_s"][stat]


# (row name, value getter, unit)
ROWS: list[tuple[str, Callable[[dict[str, Any]], Any], str]] = [
    ("requests completed", lambda s: s["requests"]["completed"], ""),
    ("requests failed", lambda s: s["requests"]["failed"], ""),
    *((f"{m.upper()} {p}", _lat(m, p), "s") for m in ("ttft", "tpot", "itl", "e2e") for p in ("p50", "p90", "p99")),
    ("throughput", lambda s: s["throughput"]["requests_per_s"], "req/s"),
    ("output tokens", lambda s: s["throughput"]["output_tokens_per_s"], "tok/s"),
    ("SLO attainment", lambda s: s["slo"]["attainment"] if s["slo"].get("ttft_s") or s["slo"].get("tpot_s") else None, ""),
    ("goodput", lambda s: s["slo"]["goodput_requests_per_s"] if s["slo"].get("ttft_s") or s["slo"].get("tpot_s") else None, "req/s"),
    ("preemptions", lambda s: s["preemptions"]["total"], ""),
    ("GPUs", lambda s: s["run"]["cluster"]["total_gpus"] if "run" in s else None, ""),
    ("simulated time", lambda s: s["simulation"]["simulated_s"], "s"),
]


def pct_change(base: Any, value: Any) -> float | None:
    """(value - base) / base in %, None when undefined."""
    if not isinstance(base, (int, float)) or not isinstance(value, (int, float)) or base == 0:
        return None
    return (value - base) / abs(base) * 100


def table(runs: Sequence[Run]) -> list[dict[str, Any]]:
    """One dict per statistic: name, unit, values (one per run), changes in % against the first run."""
    out = []
    for name, get, unit in ROWS:
        values = []
        for run in runs:
            try:
                values.append(get(run.stats))
            except (KeyError, TypeError):
                values.append(None)
        out.append({"name": name, "unit": unit, "values": values,
                    "change_pct": [pct_change(values[0], v) for v in values[1:]]})
    return out


def config_differences(runs: Sequence[Run]) -> list[dict[str, Any]]:
    """Options (and trace contents) that differ between the runs' `run` sections."""
    configs = []
    for run in runs:
        section = run.stats.get("run") or {}
        config = {k: v for k, v in (section.get("config") or {}).items() if k not in OUTPUT_FIELDS}
        config["trace sha256"] = (section.get("trace") or {}).get("sha256", "")[:12] or None
        configs.append(config)
    keys = sorted({k for c in configs for k in c})
    return [{"name": k, "values": [c.get(k) for c in configs]} for k in keys
            if len({orjson.dumps(c.get(k)) for c in configs}) > 1]


def render(runs: Sequence[Run]) -> str:
    """The side-by-side text table, then the configuration differences."""
    header = ["statistic", *(f"[{i}]" for i in range(len(runs))), *(f"[{i}] vs [0]" for i in range(1, len(runs)))]
    lines = [header]
    for row in table(runs):
        name = f"{row['name']} ({row['unit']})" if row["unit"] else row["name"]
        lines.append([name, *(_num(v) for v in row["values"]),
                      *(f"{c:+.1f}%" if c is not None else "" for c in row["change_pct"])])
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    text = ["  ".join(v.ljust(w) if i == 0 else v.rjust(w) for i, (v, w) in enumerate(zip(line, widths)))
            for line in lines]
    legend = [f"[{i}] {run.label}" for i, run in enumerate(runs)]
    diffs = config_differences(runs)
    what = (["configuration differences:"] + [f"  {d['name']}: " + " | ".join(str(v) for v in d["values"]) for d in diffs]
            if diffs else ["configuration differences: none recorded (same options and trace, or no run section)"])
    return "\n".join([*legend, "", *text, "", *what])


def _num(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def latency_samples(run: Run) -> dict[str, list[float]]:
    """Per completed request TTFT, TPOT and E2E (s), from the run's requests.jsonl."""
    path = run.folder / "requests.jsonl"
    out: dict[str, list[float]] = {"TTFT": [], "TPOT": [], "E2E": []}
    try:
        with open(path, "rb") as f:
            for line in f:
                r = orjson.loads(line)
                if r.get("outcome") != "completed":
                    continue
                out["TTFT"].append(r["first_token_s"] - r["arrival_s"])
                out["E2E"].append(r["finish_s"] - r["arrival_s"])
                if r["output_tokens"] > 1:
                    out["TPOT"].append((r["finish_s"] - r["first_token_s"]) / (r["output_tokens"] - 1))
    except OSError as err:
        raise InputFileError(f"the CDF plot needs the run's requests.jsonl ({err.strerror})", file=str(path)) from None
    return out


def plot_cdfs(runs: Sequence[Run], path: str) -> None:
    """TTFT, TPOT and E2E CDFs of every run, overlaid, in one PNG."""
    import numpy as np

    from llmsim import plotting

    plt = plotting.pyplot("--plot", field="--plot")
    samples = [latency_samples(run) for run in runs]
    fig, axes = plt.subplots(1, 3, figsize=(13, 4))
    for ax, metric in zip(axes, ("TTFT", "TPOT", "E2E")):
        for i, (run, sample) in enumerate(zip(runs, samples)):
            values = np.sort(np.asarray(sample[metric]))
            if len(values):
                ax.plot(values, np.arange(1, len(values) + 1) / len(values), label=f"[{i}] {Path(run.label).name}")
        ax.set_xscale("log")
        ax.set_xlabel(f"{metric} (s)")
        ax.set_ylabel("fraction of requests")
        ax.grid(True, alpha=0.3)
    axes[0].legend(fontsize=8)
    plotting.save(fig, path, dpi=110)
