"""`llmsim validate`: re-simulate measured serving points and print predicted vs measured and MAPE."""

from __future__ import annotations

import argparse
import sys

import orjson

from llmsim.commands.argtypes import positive_float, positive_int
from llmsim.errors import UsageError
from llmsim.validation.scenario import DURATION_S


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the `validate` subcommand."""
    p = sub.add_parser(
        "validate", help="re-simulate measured serving points (CSV) and report the prediction error",
        description="Re-simulate every row of a serving-points CSV (model, GPU, TP, precision, engine limits, "
                    "arrivals) through `llmsim replay` and print predicted vs measured, then MAPE per source, "
                    "GPU, model class and metric family. Default data: the measurements shipped with llmsim.")
    p.add_argument("--data", metavar="CSV", help="serving-points CSV (default: llmsim/validation/data/serving_points.csv)")
    p.add_argument("--calibration", default="auto",
                   help="auto (default: each row under its engine's family, vllm-v0 or vllm-v1), default, "
                        "an engine family, a profile, or none (pure roofline)")
    p.add_argument("--source", action="append", metavar="NAME", help="only rows of this source (repeatable)")
    p.add_argument("--duration", type=positive_float, default=DURATION_S, metavar="S",
                   help="seconds of arrivals simulated for rate-driven rows without a request count "
                        f"(default {DURATION_S:g})")
    out = p.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="print the rows and MAPE tables as JSON")
    out.add_argument("--csv", action="store_true", help="print one CSV row per point")
    p.add_argument("--plot", metavar="FILE.png", help="predicted-vs-measured scatter (needs the plot extra)")
    p.add_argument("--write-fidelity", metavar="FILE.json",
                   help="also write the errors as a fidelity table (llmsim.cost.fidelity.FidelityTable)")
    p.add_argument("--max-mape", type=positive_float, metavar="PCT",
                   help="exit 1 when any metric family's MAPE is above PCT (a check for CI)")
    p.add_argument("--cross-validate", action="store_true",
                   help="refit the vllm-v1/vllm-v0 families without each source and each GPU in turn and predict "
                        "the left-out points (slow: minutes per fold)")
    p.add_argument("--cv-iters", type=positive_int, default=60, metavar="N",
                   help="Nelder-Mead rounds per cross-validation fold (default 60)")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Handler of `llmsim validate`."""
    from llmsim import plotting
    from llmsim.validation import evaluate, mape_by, read_points, shipped_points_path, summary
    from llmsim.validation.names import hardware_id
    from llmsim.validation.report import GROUPS, csv_text, plot, table_lines

    if args.plot:
        from llmsim.output.atomic_file import check_output_file

        plotting.require("--plot", field="--plot")
        check_output_file(args.plot, "--plot", [("--data", args.data)])  # before the minutes of simulation
    calibration = args.calibration
    points = read_points(args.data or shipped_points_path())
    if args.source:
        known = sorted({p.source for p in points})
        unknown = [s for s in args.source if s not in known]
        if unknown:
            raise UsageError(f"no rows of source {unknown[0]!r}", field="--source", expected="one of " + ", ".join(known))
        points = [p for p in points if p.source in args.source]
    points, left_out = _simulable(points, args.duration)
    if args.cross_validate:
        return _cross_validate(points, args.cv_iters, args.duration)
    hardware = sorted({hardware_id(p) for p in points})
    label = _describe(calibration, hardware)  # an unknown profile fails here, before any simulation
    results = evaluate(points, calibration, duration_s=args.duration)
    if args.json:
        sys.stdout.buffer.write(orjson.dumps(summary(results, label, left_out), option=orjson.OPT_INDENT_2) + b"\n")
    elif args.csv:
        sys.stdout.write(csv_text(results))
    else:
        print("\n".join(table_lines(results, label)))
    if args.plot:
        plot(results, args.plot, label)
    if args.write_fidelity:
        from llmsim.validation.fidelity_table import fidelity_table, write_table

        about = f"llmsim validate --calibration {calibration} on {args.data or 'the shipped serving_points.csv'}"
        write_table(fidelity_table(results, about), args.write_fidelity)
    if args.max_mape is not None:
        worst = max(mape_by(results, GROUPS["metric family"]).values(), key=lambda v: v["mape_pct"], default=None)
        if worst is not None and worst["mape_pct"] > args.max_mape:
            return 1
    return 0


def _simulable(points: list, duration_s: float) -> tuple[list, list[str]]:  # type: ignore[type-arg]
    """The rows llmsim can simulate. A row naming a model, GPU, precision, metric or workload it does not
    know is left out with one line on stderr (file, line, field, what was expected); none left is an error."""
    from llmsim.validation import PointsError, scenario_for

    kept, skipped = [], []
    for point in points:
        try:
            scenario_for(point, duration_s)
        except PointsError as unknown:
            skipped.append(unknown)
            continue
        kept.append(point)
    if skipped and not kept:
        raise skipped[0]  # nothing to simulate: the first row's reason is the error
    for left_out in skipped:
        print(f"llmsim validate: row left out: {left_out.one_line()}", file=sys.stderr)
    if skipped:
        print(f"llmsim validate: {len(skipped)} of {len(points)} rows left out, {len(kept)} simulated",
              file=sys.stderr)
    return kept, [left_out.one_line() for left_out in skipped]


def _cross_validate(points: list, iters: int, duration_s: float) -> int:  # type: ignore[type-arg]
    """Leave-one-source-out and leave-one-GPU-out refits of the modern families."""
    from llmsim.validation.crossval import cross_validate, fold_lines

    print(f"cross-validating the vllm-v1/vllm-v0 fit on {len(points)} points, {iters} rounds a fold "
          "(several minutes per fold on two cores)", file=sys.stderr, flush=True)
    folds = cross_validate(points, iters=iters, duration_s=duration_s,
                           progress=lambda line: print(line, file=sys.stderr, flush=True))
    print("\n".join(fold_lines(folds)))
    return 0


def _describe(calibration: str, hardware: list[str]) -> str:
    """The calibration and, for `default` or an engine family, the profile each GPU resolves to."""
    from llmsim.validation.fidelity_table import profile_name

    if calibration == "auto":
        return "auto (each row under its engine's family: vllm-v0 or vllm-v1)"
    names = {hw: profile_name(calibration, hw) for hw in hardware}
    if all(name == calibration for name in names.values()):
        return calibration
    return f"{calibration} (" + ", ".join(f"{hw}: {name}" for hw, name in names.items()) + ")"
