"""`llmsim plan`: capacity search — per GPU type and TP the fewest replicas meeting the SLOs, ranked by cost."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from llmsim.commands.argtypes import fraction, positive_float, positive_int
from llmsim.commands.sweep import add_runner_arguments


def _list(kind: type) -> Any:
    def parse(text: str) -> list[Any]:
        try:
            return [kind(part.strip()) for part in text.split(",") if part.strip()]
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of {kind.__name__}") from None
    return parse


def _range(text: str) -> tuple[float, float]:
    low, _, high = text.partition(":")
    try:
        lo, hi = positive_float(low), positive_float(high)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"{text!r} is not LOW:HIGH (requests/s)") from None
    if not lo < hi:
        raise argparse.ArgumentTypeError(f"{text!r}: LOW must be below HIGH")
    return lo, hi


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the `plan` subcommand."""
    p = sub.add_parser("plan", help="capacity search: fewest replicas per GPU type and TP that meet the SLOs",
                       description="For each GPU type and TP degree, find the smallest replica count whose replay "
                                   "meets the SLOs (doubling, then bisection: monotone in the count), and rank the "
                                   "passing configurations by cost. With --max-rate, find instead the highest "
                                   "arrival rate a cluster of --replicas sustains.")
    p.add_argument("--config", "-c", metavar="RUN.toml", help="base run configuration (trace, model, serving options)")
    p.add_argument("--input", "-i", help="request trace (default: the bundled conversation trace)")
    p.add_argument("--model", help="model of every request")
    p.add_argument("--rate", type=positive_float, help="Poisson arrival rate, requests/s")
    p.add_argument("--limit", type=positive_int, help="use the first N requests of the trace")
    p.add_argument("--seed", type=int, help="random seed (default 0)")
    p.add_argument("--routing-policy", help="router policy (default round-robin)")
    p.add_argument("--gpus", type=_list(str), required=True, help="candidate GPU ids, e.g. nvidia_H100,nvidia_A100_80G_SXM")
    p.add_argument("--tp", type=_list(int), default=[1], help="candidate TP degrees, e.g. 1,2,4,8 (default 1)")
    p.add_argument("--slo", required=True, help="e.g. ttft_p99=2,tpot_p99=0.08 (seconds); ttft=S,tpot=S are per-request targets")
    p.add_argument("--attainment", type=fraction, help="also require this fraction of requests within ttft/tpot")
    p.add_argument("--max-replicas", type=positive_int, default=64, help="largest count tried (default 64)")
    p.add_argument("--max-rate", action="store_true", help="find the highest rate --replicas sustain instead")
    p.add_argument("--replicas", type=positive_int, help="with --max-rate: replicas per candidate")
    p.add_argument("--rate-range", type=_range, default=(0.1, 1000.0), help="with --max-rate: LOW:HIGH req/s searched (default 0.1:1000)")
    p.add_argument("--out", "-o", help="folder of the runs, reused by later plans (default .local/plans/plan)")
    p.add_argument("--csv", help="write the ranked table here (default OUT/plan.csv)")
    p.add_argument("--plot", metavar="FILE.png", help="draw cost against the first SLO metric, with the SLO line")
    add_runner_arguments(p)
    p.set_defaults(handler=run)


def base_fields(args: argparse.Namespace) -> dict[str, Any]:
    """The base run configuration: the --config file, then the flags given."""
    from llmsim.runconfig import EXAMPLES, read_config

    fields: dict[str, Any] = read_config(args.config) if args.config else {}
    given = {"input": args.input, "model": args.model, "arrival_rate": args.rate, "limit": args.limit,
             "seed": args.seed, "routing_policy": args.routing_policy}
    fields.update({k: v for k, v in given.items() if v is not None})
    fields.setdefault("input", str(EXAMPLES / "trace.jsonl"))
    return fields


def run(args: argparse.Namespace) -> int:
    """Handler of `llmsim plan`."""
    from llmsim.commands.sweep import _table
    from llmsim.planning.plan import parse_slo, run_plan
    from llmsim.planning.sweep import write_csv

    criteria = parse_slo(args.slo)
    out = args.out or str(Path(".local/plans/plan"))
    result = run_plan(base_fields(args), args.gpus, args.tp, criteria, out, attainment=args.attainment,
                      max_replicas=args.max_replicas, max_rate=args.max_rate, replicas=args.replicas,
                      rate_range=args.rate_range, backend=args.backend, workers=args.workers,
                      address=args.address, prices=args.prices, progress=not args.quiet)
    print(_table(result.columns, result.rows))
    csv_path = Path(args.csv or Path(out) / "plan.csv")
    write_csv(csv_path, result.columns, result.rows)
    print(f"{len(result.probes)} configurations judged, {result.runs} simulated now; wrote {csv_path}")
    if args.plot:
        from llmsim.planning.plan_plot import plot_plan

        plot_plan(result, criteria, args.plot, prices=args.prices)
        print(f"wrote {args.plot}")
    return 0
