"""The `llmsim` command: argument parsing, subcommand dispatch, one-line errors and exit codes."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

from llmsim.errors import EXIT_SIGINT, LlmsimError, UsageError
from llmsim.interrupt import StoppedBySignal, exit_status
from llmsim.logging_setup import LOG_FORMATS, LOG_LEVELS, configure_logging

# Each module under llmsim/commands/ exposes `register(subparsers) -> None`; the parser it adds
# sets `handler=callable(args) -> int` through `set_defaults`.
COMMAND_MODULES: tuple[str, ...] = (
    "llmsim.commands.cost",
    "llmsim.commands.roofline",
    "llmsim.commands.calibrate",
    "llmsim.commands.replay",
    "llmsim.commands.workload",
    "llmsim.commands.events",
    "llmsim.commands.report",
    "llmsim.commands.validate",
    "llmsim.commands.hardware",
    "llmsim.commands.models",
    # issue 17: capacity planning
    "llmsim.commands.sweep",
    "llmsim.commands.plan",
    "llmsim.commands.compare",
)

EXIT_BAD_INPUT = 2


class OneLineParser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors become UsageError (one line, exit 2), not a usage dump.

    Subparsers inherit the class, so `llmsim replay --arrival-rate x` fails the same way.
    """

    def error(self, message: str) -> NoReturn:
        field = None
        if message.startswith("argument ") and ": " in message:
            field, _, message = message[len("argument "):].partition(": ")
        expected = f"options listed by `{self.prog} --help`" if message.startswith("unrecognized") else None
        raise UsageError(message, field=field, expected=expected)


class _VersionAction(argparse.Action):
    """`--version`: the package version and which build runs (worked out only when asked)."""

    def __init__(self, option_strings: Sequence[str], dest: str = argparse.SUPPRESS, **kwargs: object) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS,
                         help="print the version and the build (plain Python or compiled), then exit")

    def __call__(self, parser: argparse.ArgumentParser, *_args: object, **_kwargs: object) -> None:
        from importlib.metadata import PackageNotFoundError, version

        from llmsim.buildinfo import describe

        try:
            number = version("llmsim")
        except PackageNotFoundError:
            number = "unknown"
        print(f"llmsim {number} ({describe()})")
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    """Build the top-level parser with every subcommand registered."""
    parser = OneLineParser(
        prog="llmsim",
        description="Discrete-event simulator of LLM inference serving clusters.",
    )
    parser.add_argument("--version", action=_VersionAction)
    parser.add_argument("--debug", action="store_true", help="show tracebacks for errors")
    parser.add_argument("--log-level", choices=LOG_LEVELS, default="info", help="diagnostics on stderr (default info)")
    parser.add_argument("--log-format", choices=LOG_FORMATS, default="console", help="console lines or JSON lines")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: with no arguments at all, replay the bundled example."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    if not args_list:
        args_list = ["replay"]
    debug = "--debug" in args_list
    try:
        parser = build_parser()
        args = parser.parse_args(args_list)
        if getattr(args, "handler", None) is None:
            parser.print_help()
            return EXIT_BAD_INPUT
        debug = bool(getattr(args, "debug", False))
        configure_logging(args.log_level, args.log_format)
        return int(args.handler(args) or 0)
    except LlmsimError as err:
        if debug:
            raise
        print(f"llmsim: error: {err.one_line()}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt as err:  # Ctrl-C (or SIGTERM while starting) outside a replay's run loop
        if debug:
            raise
        print("llmsim: interrupted", file=sys.stderr)
        return exit_status(err.signum) if isinstance(err, StoppedBySignal) else EXIT_SIGINT
    except RecursionError:  # a nesting no reader caught: still one line, never a traceback
        if debug:
            raise
        print("llmsim: error: input nested too deeply (expected ordinary JSON)", file=sys.stderr)
        return EXIT_BAD_INPUT
    except BrokenPipeError:  # `llmsim ... | head`: the reader has gone; stop quietly, as other tools do
        _silence_stdout()
        return EXIT_BROKEN_PIPE


EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE: what a shell reports for a tool stopped by a closed pipe


def _silence_stdout() -> None:
    """Point stdout at /dev/null so that the interpreter's final flush cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
