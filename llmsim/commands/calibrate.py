"""`llmsim calibrate`: fit the named calibration profiles from measured GPU timings."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import msgspec

from llmsim.errors import InputFileError
from llmsim.output.atomic_file import atomic_output


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `calibrate` subcommand."""
    parser = subparsers.add_parser(
        "calibrate", help="fit calibration profiles from measured profiles (Vidur, Splitwise, Sarathi, TRT-LLM)")
    parser.add_argument("--data", required=True, help="folder holding profiles/ and measured/ (the shared data)")
    parser.add_argument("--output", help="write the calibration JSON here (default: standard output)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Fit and write the profiles."""
    from llmsim.cost.calibrate import build_calibration

    data = Path(args.data)
    if not (data / "profiles").is_dir() or not (data / "measured").is_dir():
        raise InputFileError("no profiles/ and measured/ folders here", file=str(data))
    text = msgspec.json.format(msgspec.json.encode(build_calibration(data)), indent=1).decode() + "\n"
    if args.output is None:
        sys.stdout.write(text)
        return 0
    with atomic_output(args.output, "--output", [("--data", args.data)]) as handle:
        handle.write(text.encode("utf-8"))
    print(f"wrote {args.output}", file=sys.stderr)
    return 0
