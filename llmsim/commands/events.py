"""`llmsim events RUN filter|timeline|summary`: inspect a run's event log without loading it whole."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable

import orjson

from llmsim.commands.argtypes import MAX_SECONDS, float_range, int_range
from llmsim.errors import UsageError


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the `events` subcommand and its three actions."""
    p = sub.add_parser("events", help="inspect a run's event log (events.jsonl)",
                       description="Inspect events.jsonl (or a run folder holding one), streaming.")
    p.add_argument("run", metavar="RUN", help="events.jsonl file or run output folder")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    f = actions.add_parser("filter", help="print the events that match every condition given")
    f.add_argument("--request", help="request id")
    f.add_argument("--node", type=int_range(0, 2**63 - 1), help="node id")
    f.add_argument("--gpu", help="GPU replica name, e.g. n1/g0, or one GPU of a TP group (n1/g2 matches n1/g0-3)")
    f.add_argument("--kind", action="append", default=[], help="event kind (repeatable)")
    f.add_argument("--since", dest="since_s", type=float_range(0, MAX_SECONDS), help="from this simulated second")
    f.add_argument("--until", dest="until_s", type=float_range(0, MAX_SECONDS), help="up to this simulated second")
    f.add_argument("--json", action="store_true", help="JSON lines instead of a table")
    f.set_defaults(handler=run_filter)
    t = actions.add_parser("timeline", help="one request's life: queued, prefilling, decoding, preempted")
    t.add_argument("--request", required=True, help="request id")
    t.add_argument("--json", action="store_true", help="one JSON document instead of a table")
    t.set_defaults(handler=run_timeline)
    s = actions.add_parser("summary", help="counts per kind, node and GPU; the busiest moments")
    s.add_argument("--window", dest="window_s", type=float_range(1e-6, MAX_SECONDS), default=1.0, help="busiest-window length (s)")
    s.add_argument("--json", action="store_true", help="one JSON document instead of tables")
    s.set_defaults(handler=run_summary)


def _print_lines(lines: Iterable[str]) -> None:
    out = sys.stdout
    try:
        for line in lines:
            out.write(line + "\n")
        out.flush()
    except BrokenPipeError:  # `| head` closed the pipe: stop quietly
        sys.stderr.close()


def _print_json_lines(lines: Iterable[bytes]) -> None:
    out = sys.stdout.buffer
    try:
        for line in lines:
            out.write(line + b"\n")
        out.flush()
    except BrokenPipeError:
        sys.stderr.close()


def run_filter(args: argparse.Namespace) -> int:
    """Handler of `llmsim events RUN filter`."""
    from llmsim.inspect import EventFilter, events_path, filter_events
    from llmsim.inspect.render import event_json, event_table
    from llmsim.output.events import event_kinds

    known = set(event_kinds())
    for kind in args.kind:
        if kind not in known:
            raise UsageError(f"unknown event kind {kind!r}", field="--kind", expected="one of " + ", ".join(sorted(known)))
    conditions = EventFilter(request=args.request, node=args.node, gpu=args.gpu, kinds=tuple(args.kind),
                             since_s=args.since_s, until_s=args.until_s)
    events = filter_events(events_path(args.run), conditions)
    if args.json:
        _print_json_lines(event_json(events))
    else:
        _print_lines(event_table(events))
    return 0


def run_timeline(args: argparse.Namespace) -> int:
    """Handler of `llmsim events RUN timeline`."""
    from llmsim.inspect import build_timeline, events_path
    from llmsim.inspect.render import timeline_json, timeline_lines

    tl = build_timeline(events_path(args.run), args.request)
    if args.json:
        _print_json_lines([orjson.dumps(timeline_json(tl))])
    else:
        _print_lines(timeline_lines(tl))
    return 0


def run_summary(args: argparse.Namespace) -> int:
    """Handler of `llmsim events RUN summary`."""
    import msgspec

    from llmsim.inspect import events_path, summarize
    from llmsim.inspect.render import summary_lines

    if not args.window_s > 0:
        raise UsageError(f"window {args.window_s} is not > 0", field="--window", expected="seconds > 0")
    s = summarize(events_path(args.run), window_s=args.window_s)
    if args.json:
        _print_json_lines([msgspec.json.encode(s)])
    else:
        _print_lines(summary_lines(s))
    return 0
