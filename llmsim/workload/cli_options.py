"""Command-line flags for reading a trace with arrival options, shared by every command that does."""

from __future__ import annotations

import argparse

from llmsim.commands.argtypes import MAX_SECONDS, float_range, int_range
from llmsim.workload.arrivals import ARRIVAL_PROCESSES, ArrivalOptions
from llmsim.workload.formats import TRACE_FORMATS


def add_format_argument(parser: argparse.ArgumentParser) -> None:
    """--format: the trace format, detected from the file by default."""
    parser.add_argument(
        "--format",
        dest="trace_format",
        choices=TRACE_FORMATS,
        default="auto",
        help="trace format (default: detected from the file's first line)",
    )


def add_arrival_arguments(parser: argparse.ArgumentParser, *, with_model: bool = True) -> None:
    """--arrival-rate, --arrival-process, --burstiness, --time-scale, --start, --duration, --limit (and --model)."""
    group = parser.add_argument_group("arrivals")
    group.add_argument("--arrival-rate", type=float_range(0, 1e9, above_low=True), metavar="R",
                       help="Poisson arrivals at R requests/s, replacing the trace's timestamps")
    group.add_argument("--arrival-process", choices=ARRIVAL_PROCESSES,
                       help="with --arrival-rate: poisson (default), gamma (needs --burstiness) or constant (fixed gap)")
    group.add_argument("--burstiness", type=float_range(1e-3, 100), metavar="CV",
                       help="with --arrival-rate: Gamma inter-arrival gaps with this coefficient of variation (1 = Poisson)")
    group.add_argument("--time-scale", type=float_range(1e-6, 1e9), default=1.0, metavar="X",
                       help="replay X times faster (2 halves every gap); default 1")
    group.add_argument("--start", type=float_range(0, MAX_SECONDS), metavar="S",
                       help="skip requests before S seconds into the trace")
    group.add_argument("--duration", type=float_range(0, MAX_SECONDS, above_low=True), metavar="S",
                       help="keep only requests in the S seconds after --start")
    group.add_argument("--limit", type=int_range(0, 10**15), metavar="N", help="at most N requests")
    if with_model:
        group.add_argument("--model", help="serve every request with this model")


def arrival_options_from_args(args: argparse.Namespace) -> ArrivalOptions:
    """The ArrivalOptions that the flags added by `add_arrival_arguments` describe."""
    return ArrivalOptions(
        rate=args.arrival_rate,
        burstiness=args.burstiness,
        process=getattr(args, "arrival_process", None),
        time_scale=args.time_scale,
        start_s=args.start,
        duration_s=args.duration,
        limit=args.limit,
        model=getattr(args, "model", None),
    )
