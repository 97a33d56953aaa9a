"""`llmsim compare RUN_A RUN_B [...]`: key statistics side by side with % differences, and what differed."""

from __future__ import annotations

import argparse
import sys

import orjson


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the `compare` subcommand."""
    p = sub.add_parser("compare", help="compare runs: key statistics side by side, differences in %",
                       description="Compare the stats.json of two or more runs (output folders, sweep point "
                                   "folders or stats.json files); differences are against the first run.")
    p.add_argument("runs", nargs="+", metavar="RUN")
    p.add_argument("--plot", metavar="FILE.png", help="overlaid TTFT/TPOT/E2E CDFs (needs requests.jsonl and matplotlib)")
    p.add_argument("--json", action="store_true", help="print the comparison as JSON")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Handler of `llmsim compare`."""
    from llmsim.errors import UsageError
    from llmsim.planning.compare import config_differences, load_run, plot_cdfs, render, table

    if len(args.runs) < 2:
        raise UsageError("compare needs at least two runs", field="RUN", expected="RUN_A RUN_B [...]")
    runs = [load_run(path) for path in args.runs]
    if args.json:
        doc = {"runs": [r.label for r in runs], "statistics": table(runs), "differences": config_differences(runs)}
        sys.stdout.buffer.write(orjson.dumps(doc, option=orjson.OPT_INDENT_2) + b"\n")
    else:
        print(render(runs))
    if args.plot:
        plot_cdfs(runs, args.plot)
        print(f"wrote {args.plot}", file=sys.stderr if args.json else sys.stdout)
    return 0
