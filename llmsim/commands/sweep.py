"""`llmsim sweep SPEC.toml`: run a grid or list of configurations in parallel and write sweep.csv."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from llmsim.commands.argtypes import positive_int
from llmsim.planning.backends import BACKENDS

SHOWN = ("point", "gpus", "ttft_p99_s", "tpot_p99_s", "slo_attainment", "cost_per_hour_usd",
         "cost_per_million_output_tokens_usd")


def add_runner_arguments(p: argparse.ArgumentParser) -> None:
    """Options shared by sweep and plan: where points run, the prices, the output folder."""
    p.add_argument("--workers", "-j", type=positive_int, help="parallel runs (default: the CPU count)")
    p.add_argument("--backend", choices=BACKENDS, default="process",
                   help="process (local pool, default) or ray (Ray tasks; needs the ray extra)")
    p.add_argument("--address", help="with --backend ray: the cluster to join (default: start a local Ray)")
    p.add_argument("--prices", metavar="FILE", help="GPU prices JSON (default: the shipped list prices)")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the `sweep` subcommand."""
    p = sub.add_parser("sweep", help="run a grid of configurations and tabulate latency, SLOs and cost",
                       description="Run every point of SPEC.toml ([base] options, [axes] lists for a full grid, "
                                   "[[points]] for explicit points) and write OUT/sweep.csv. Points already "
                                   "run under OUT for the same configuration hash are reused.")
    p.add_argument("spec", metavar="SPEC.toml")
    p.add_argument("--out", "-o", help="output folder (default .local/sweeps/SPEC-NAME)")
    p.add_argument("--per-point-outputs", action="store_true",
                   help="keep every point's events, requests and trace in OUT/points/HASH/")
    add_runner_arguments(p)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Handler of `llmsim sweep`."""
    from llmsim.planning.sweep import run_sweep

    out = args.out or str(Path(".local/sweeps") / Path(args.spec).stem)
    result = run_sweep(args.spec, out, backend=args.backend, workers=args.workers, address=args.address,
                       prices=args.prices, per_point_outputs=args.per_point_outputs, progress=not args.quiet)
    shown = [c for c in result.columns if c in SHOWN or c not in _metric_columns()]
    print(_table(shown, result.rows[:10]))
    if len(result.rows) > 10:
        print(f"... {len(result.rows) - 10} more rows")
    print(f"{len(result.rows)} points, {result.runs} simulated now (the others were already in {out}); "
          f"wrote {result.csv_path}")
    for row in result.errors:
        print(f"llmsim: point {row['point']}: {row['error']}", file=sys.stderr)
    return 1 if result.errors else 0


def _metric_columns() -> tuple[str, ...]:
    from llmsim.planning.sweep import METRIC_COLUMNS

    return (*METRIC_COLUMNS, "config_hash", "error")


def _table(columns: list[str], rows: list[dict]) -> str:  # type: ignore[type-arg]
    """A plain aligned text table."""
    from llmsim.planning.sweep import _cell

    cells = [columns] + [[_cell(r.get(c)) for c in columns] for r in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(columns))]
    return "\n".join("  ".join(v.rjust(w) for v, w in zip(line, widths)) for line in cells)
