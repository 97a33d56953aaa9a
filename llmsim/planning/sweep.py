"""`llmsim sweep`: run every point of a spec and tabulate latency, SLO attainment and cost in sweep.csv."""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import msgspec

from llmsim.options import ReplayOptions
from llmsim.planning.prices import Price, cluster_cost_per_hour, load_prices
from llmsim.planning.runner import PointResult, Runner
from llmsim.planning.spec import SweepSpec, read_spec, spec_from_mapping
from llmsim.runconfig import resolve_options

LATENCIES = ("ttft", "tpot", "itl", "e2e")
PERCENTILES = ("p50", "p90", "p99")
METRIC_COLUMNS = (
    "gpus", "gpu_types", "requests", "completed", "failed",
    *(f"{m}_{p}_s" for m in LATENCIES for p in PERCENTILES),
    "throughput_rps", "output_tokens_per_s", "slo_attainment", "goodput_rps",
    "cost_per_hour_usd", "cost_per_million_output_tokens_usd",
)


class SweepResult(msgspec.Struct, kw_only=True):
    """A finished sweep: its columns, one row a point (in spec order), and how many points were simulated."""

    columns: list[str]
    rows: list[dict[str, Any]]
    runs: int
    csv_path: str | None = None

    @property
    def errors(self) -> list[dict[str, Any]]:
        """The rows of points that did not run."""
        return [r for r in self.rows if r["error"]]


def metrics(stats: dict[str, Any], prices: Mapping[str, Price]) -> dict[str, Any]:
    """The sweep.csv figures of one run's statistics."""
    lat, req, th = stats["latency"], stats["requests"], stats["throughput"]
    gpus = stats["run"]["cluster"]["gpus"]
    cost = cluster_cost_per_hour(gpus, dict(prices))
    out_tps = th["output_tokens_per_s"]
    row: dict[str, Any] = {
        "gpus": sum(gpus.values()), "gpu_types": " ".join(f"{g}:{n}" for g, n in gpus.items()),
        "requests": req["total"], "completed": req["completed"], "failed": req["failed"],
    }
    for m in LATENCIES:
        for p in PERCENTILES:
            row[f"{m}_{p}_s"] = lat[f"{m}_s"][p]
    row.update({
        "throughput_rps": th["requests_per_s"], "output_tokens_per_s": out_tps,
        "slo_attainment": stats["slo"]["attainment"], "goodput_rps": stats["slo"]["goodput_requests_per_s"],
        "cost_per_hour_usd": cost,
        "cost_per_million_output_tokens_usd": cost / 3600 / out_tps * 1e6 if cost is not None and out_tps > 0 else None,
    })
    return row


def row_of(index: int, params: Mapping[str, Any], result: PointResult, prices: Mapping[str, Price]) -> dict[str, Any]:
    """One sweep.csv row: position, parameters, figures, configuration hash, error."""
    figures = metrics(result.stats, prices) if result.stats is not None else dict.fromkeys(METRIC_COLUMNS)
    return {"point": index, **params, **figures, "config_hash": result.key, "error": result.error or ""}


def load_spec(spec: SweepSpec | str | Path | Mapping[str, Any]) -> SweepSpec:
    """A SweepSpec from itself, a TOML path, or a mapping with the file's tables."""
    if isinstance(spec, SweepSpec):
        return spec
    if isinstance(spec, (str, Path)):
        return read_spec(str(spec))
    return spec_from_mapping(dict(spec))


def run_sweep(spec: SweepSpec | str | Path | Mapping[str, Any], out_dir: str | Path, *,
              backend: str = "process", workers: int | None = None, address: str | None = None,
              prices: str | Mapping[str, Price] | None = None, per_point_outputs: bool = False,
              progress: bool = False) -> SweepResult:
    """Run every point of a sweep (points already run under `out_dir` are reused); write OUT/sweep.csv.

    `spec` is a SweepSpec, the path of a TOML spec, or a mapping with its `base`, `axes` and
    `points` tables. Rows come in spec order and are identical whatever the backend or worker count.
    """
    sweep = load_spec(spec)
    price_table = prices if isinstance(prices, Mapping) else load_prices(prices)
    configs = [point_options(p.fields) for p in sweep.points]
    check_points(sweep, configs)
    runner = Runner(out_dir, backend=backend, workers=workers, address=address,
                    per_point_outputs=per_point_outputs, progress=progress)
    results = runner.run(configs)
    rows = [row_of(p.index, p.params, r, price_table) for p, r in zip(sweep.points, results)]
    columns = ["point", *sweep.params, *METRIC_COLUMNS, "config_hash", "error"]
    path = Path(out_dir) / "sweep.csv"
    write_csv(path, columns, rows)
    return SweepResult(columns=columns, rows=rows, runs=runner.runs, csv_path=str(path))


def check_points(sweep: SweepSpec, configs: list[ReplayOptions]) -> None:
    """Before anything runs: every point's cluster must be buildable (GPU ids, models, files)."""
    from llmsim.errors import LlmsimError
    from llmsim.replay import build_environment

    seen: set[str] = set()
    for point, opts in zip(sweep.points, configs):
        key = msgspec.json.encode(opts).decode()
        if key in seen:
            continue
        seen.add(key)
        try:
            build_environment(opts)
        except LlmsimError as err:
            err.field = f"point {point.index} {point.params}" + (f": {err.field}" if err.field else "")
            if err.file is None:
                err.file = sweep.source
            raise


def point_options(fields: Mapping[str, Any]) -> ReplayOptions:
    """A point's ReplayOptions (quiet; outputs are the runner's business)."""
    return resolve_options(fields, {"quiet": True})


def csv_text(columns: list[str], rows: list[dict[str, Any]]) -> str:
    """The table as CSV: floats with 6 significant digits, missing values empty."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(row.get(c)) for c in columns])
    return buf.getvalue()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def write_csv(path: Path, columns: list[str], rows: list[dict[str, Any]]) -> None:
    """Write the CSV whole (a temporary file renamed over the old one)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(csv_text(columns, rows), encoding="utf-8")
    os.replace(tmp, path)
