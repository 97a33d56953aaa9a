"""`llmsim report RUN`: PNG plots and a Markdown summary of a finished run (needs matplotlib)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from llmsim.commands.argtypes import MAX_SECONDS, float_range
from llmsim.commands.replay import slo_targets

EXIT_MISSING_EXTRA = 2


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the `report` subcommand."""
    p = sub.add_parser("report", help="plots (PNG) and a Markdown summary of a run",
                       description="Write latency CDFs, latency over time, throughput, queue depth, KV use and batch "
                                   "size plots and summary.md (configuration, SLO attainment, goodput) for a run "
                                   "folder (or events.jsonl).")
    p.add_argument("run", metavar="RUN", help="run output folder or its events.jsonl")
    p.add_argument("--output-dir", "-o", help="where to write (default RUN/report)")
    p.add_argument("--bucket", dest="bucket_s", type=float_range(1e-3, MAX_SECONDS), help="time-series bucket in seconds (default: span/200)")
    p.add_argument("--slo", type=slo_targets,
                   help="SLO targets drawn and counted, e.g. ttft=0.5,tpot=0.05 (default: the replay's --slo)")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Handler of `llmsim report`."""
    from llmsim.report.plots import matplotlib_available

    if not matplotlib_available():
        print("llmsim: error: `llmsim report` needs matplotlib: pip install 'llmsim[plot]'", file=sys.stderr)
        return EXIT_MISSING_EXTRA
    from llmsim.inspect import events_path
    from llmsim.report.build import write_report

    events = events_path(args.run)
    out_dir = Path(args.output_dir) if args.output_dir else events.parent / "report"
    written = write_report(events, out_dir, bucket_s=args.bucket_s, slo=args.slo)
    for path in written:
        print(path)
    return 0
