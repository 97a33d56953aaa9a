"""The workload commands: `llmsim workload stats`, `llmsim generate` and `llmsim convert`."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Iterable, Iterator
from typing import IO

import msgspec
import numpy as np

from llmsim.commands.argtypes import MAX_SECONDS, SEED, float_range, int_range
from llmsim.errors import LlmsimError, OutputError, UsageError
from llmsim.output.atomic_file import atomic_output, check_output_file
from llmsim.workload.arrivals import NS_PER_S, ArrivalOptions, with_arrivals
from llmsim.workload.canonical import CanonicalRecord, to_record, write_canonical
from llmsim.workload.cli_options import add_arrival_arguments, add_format_argument, arrival_options_from_args
from llmsim.workload.formats import detect_format, open_trace
from llmsim.workload.lengths import SPEC_HELP, parse_length_spec, trace_lengths
from llmsim.workload.plot import plot_trace, require_matplotlib
from llmsim.workload.request import TraceRequest
from llmsim.workload.shared_prefix import SharedPrefixSpec
from llmsim.workload.stats import arrival_offsets_s, collect, compute_stats, format_stats
from llmsim.workload.synthetic import GenerateOptions, generate


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the `workload`, `generate` and `convert` subcommands."""
    _register_stats(subparsers)
    _register_generate(subparsers)
    _register_convert(subparsers)


def _register_stats(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    workload = subparsers.add_parser("workload", help="inspect request traces")
    inner = workload.add_subparsers(dest="workload_command", metavar="ACTION")
    stats = inner.add_parser("stats", help="count, span, arrival rates and token-length percentiles of a trace")
    stats.add_argument("trace", metavar="TRACE")
    add_format_argument(stats)
    add_arrival_arguments(stats)
    stats.add_argument("--seed", type=SEED, default=0, help="random seed for --arrival-rate (default 0)")
    stats.add_argument("--json", action="store_true", help="print the figures as JSON")
    stats.add_argument("--plot", metavar="FILE.png", help="also draw rate over time and length histograms (needs matplotlib)")
    stats.set_defaults(handler=run_stats)
    workload.set_defaults(handler=lambda args: _print_help(workload))


def _register_generate(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    gen = subparsers.add_parser("generate", help="write a synthetic trace in the canonical format")
    gen.add_argument("--count", type=int_range(1, 10**9), metavar="N", help="number of requests")
    gen.add_argument("--duration", type=float_range(0, MAX_SECONDS, above_low=True), metavar="S", help="generate arrivals for S seconds")
    gen.add_argument("--input-tokens", default="lognormal:1000:1000", metavar="SPEC",
                     help=f"prompt length distribution: {SPEC_HELP} (default lognormal:1000:1000)")
    gen.add_argument("--output-tokens", default="lognormal:250:250", metavar="SPEC",
                     help="output length distribution, same forms (default lognormal:250:250)")
    gen.add_argument("--lengths-from", metavar="TRACE",
                     help="resample (input, output) pairs jointly from this trace instead")
    gen.add_argument("--max-tokens", type=int_range(1, 10_000_000), metavar="N", help="clip every length to at most N")
    gen.add_argument("--arrival-rate", type=float_range(0, 1e9, above_low=True), default=1.0, metavar="R", help="requests/s (default 1)")
    gen.add_argument("--burstiness", type=float_range(1e-3, 100), metavar="CV", help="Gamma gaps with this CV (default Poisson)")
    gen.add_argument("--untimed", action="store_true", help="write no arrival times")
    gen.add_argument("--shared-prefix", metavar="G:U:S",
                     help="G system prompts of S tokens, U prompts each (a question drawn from --input-tokens "
                          "after the system prompt); requests cycle through the G x U prompts in a seeded shuffled "
                          "order, as inference-perf's shared_prefix data does; writes prefix hashes")
    gen.add_argument("--model", help="model name written on every request")
    gen.add_argument("--seed", type=SEED, default=0, help="random seed (default 0)")
    gen.add_argument("-o", "--out", default="-", metavar="FILE", help="output file (default stdout)")
    gen.set_defaults(handler=run_generate)


def _register_convert(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    conv = subparsers.add_parser("convert", help="rewrite any readable trace in the canonical format")
    conv.add_argument("trace", metavar="TRACE")
    add_format_argument(conv)
    add_arrival_arguments(conv)
    conv.add_argument("--seed", type=SEED, default=0, help="random seed for --arrival-rate (default 0)")
    conv.add_argument("-o", "--out", default="-", metavar="FILE", help="output file (default stdout)")
    conv.set_defaults(handler=run_convert)


def _print_help(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def _is_timed(requests: Iterator[TraceRequest], opts: ArrivalOptions) -> tuple[bool, Iterator[TraceRequest]]:
    """Whether arrivals will be real times, peeking at the first request (which is put back)."""
    first = next(requests, None)
    rest: Iterator[TraceRequest] = iter(()) if first is None else _chain(first, requests)
    timed = opts.rate is not None or (first is not None and first.arrival_s is not None)
    return timed, rest


def _chain(first: TraceRequest, rest: Iterable[TraceRequest]) -> Iterator[TraceRequest]:
    yield first
    yield from rest


def run_stats(args: argparse.Namespace) -> int:
    """Print the statistics of one trace (and draw them with --plot)."""
    if args.plot:
        require_matplotlib()
        check_output_file(args.plot, "--plot", [("TRACE", args.trace)])  # before reading the whole trace
    opts = arrival_options_from_args(args)
    fmt = detect_format(args.trace) if args.trace_format == "auto" else args.trace_format
    timed, requests = _is_timed(open_trace(args.trace, fmt), opts)
    try:
        columns = collect(with_arrivals(requests, opts, np.random.default_rng(args.seed), source=args.trace))
    except LlmsimError as err:
        err.file = err.file or args.trace
        raise
    stats = compute_stats(columns, timed=timed)
    if args.json:
        print(msgspec.json.encode(stats).decode())
    else:
        print(format_stats(stats, f"{args.trace} ({fmt})"))
    if args.plot:
        offsets_s = arrival_offsets_s(columns.arrival_ns) if timed and columns.arrival_ns.size else None
        plot_trace(args.plot, offsets_s, columns.input_tokens, columns.output_tokens, args.trace)
    return 0


MAX_GENERATED = 1_000_000_000  # the most requests one `generate` writes (as --count allows)


def run_generate(args: argparse.Namespace) -> int:
    """Write a seeded synthetic trace."""
    if args.duration is not None and not args.untimed and args.duration * args.arrival_rate > MAX_GENERATED:
        raise UsageError(f"--duration {args.duration:g} s at {args.arrival_rate:g} req/s is about "
                         f"{args.duration * args.arrival_rate:.3g} requests", field="--duration",
                         expected=f"at most {MAX_GENERATED:,} requests (a shorter --duration or a lower --arrival-rate)")
    opts = GenerateOptions(
        count=args.count,
        duration_s=args.duration,
        rate=None if args.untimed else args.arrival_rate,
        burstiness=args.burstiness,
        model=args.model,
        max_tokens=args.max_tokens,
        seed=args.seed,
        shared_prefix=None if args.shared_prefix is None else SharedPrefixSpec.parse(args.shared_prefix),
    )
    if args.lengths_from:
        records = generate(None, None, opts, joint=trace_lengths(args.lengths_from))
    else:
        inputs = parse_length_spec(args.input_tokens, "input")
        outputs = parse_length_spec(args.output_tokens, "output")
        records = generate(inputs, outputs, opts)
    count = _write(records, args.out, [("--lengths-from", args.lengths_from)])
    _report(count, args.out)
    return 0


def run_convert(args: argparse.Namespace) -> int:
    """Rewrite a trace as canonical JSONL, arrivals rebased (and replaced, scaled, windowed)."""
    opts = arrival_options_from_args(args)
    timed, requests = _is_timed(open_trace(args.trace, args.trace_format), opts)
    pairs = with_arrivals(requests, opts, np.random.default_rng(args.seed), source=args.trace)
    records = (to_record(r, round(t_ns / NS_PER_S, 9) if timed else None) for t_ns, r in pairs)
    count = _write(records, args.out, [("TRACE", args.trace)])
    _report(count, args.out)
    return 0


def _write(records: Iterable[CanonicalRecord], out: str, inputs: list[tuple[str, str | None]]) -> int:
    """Stream records to a file (replaced only once whole) or to stdout for "-"."""
    try:
        with _open_out(out, inputs) as handle:
            return write_canonical(records, handle)
    except BrokenPipeError:
        # The reader of stdout went away (as `| head` does): stop quietly, like other tools.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as err:
        raise OutputError(f"cannot write: {err.strerror or err}", file=out) from None


@contextlib.contextmanager
def _open_out(out: str, inputs: list[tuple[str, str | None]]) -> Iterator[IO[bytes]]:
    if out == "-":
        yield sys.stdout.buffer
        sys.stdout.buffer.flush()
        return
    with atomic_output(out, "--out", inputs) as handle:
        yield handle


def _report(count: int, out: str) -> None:
    if out != "-":
        print(f"wrote {count} requests to {out}", file=sys.stderr)
