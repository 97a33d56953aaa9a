"""Measured serving points: read a serving-points CSV into typed rows, one clear error per bad field.

The columns are those of `serving_points.csv` (shipped in `llmsim/validation/data/`, see the
README there): source, url_or_repo_path, engine, engine_version, model, gpu, n_gpus, tp,
precision, input_len, output_len, dataset, arrival, arrival_value, metric, value, notes.
Free-text fields such as `~592 (sys 100+q 466+template; measured mean)` are read by their first
number (`first_number`); what a row means for the simulation is decided in `scenario.py`.
"""

from __future__ import annotations

import csv
import re
from importlib import resources
from typing import Literal, get_args

import msgspec

from llmsim.errors import InputFileError, LlmsimError

Metric = Literal["ttft_p50_ms", "e2e_p50_s", "e2e_mean_s", "throughput_req_s", "throughput_tok_s", "itl_mean_ms",
                 "decode_tok_s_per_request"]
METRICS: tuple[str, ...] = get_args(Metric)
COLUMNS = ("source", "url_or_repo_path", "engine", "engine_version", "model", "gpu", "n_gpus", "tp", "precision",
           "input_len", "output_len", "dataset", "arrival", "arrival_value", "metric", "value", "notes")
REQUIRED = ("source", "model", "gpu", "tp", "precision", "input_len", "output_len", "arrival", "arrival_value",
            "metric", "value")
_NUMBER = re.compile(r"[-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")


class PointsError(LlmsimError):
    """A serving-points CSV row with a missing, malformed or unsupported field."""


class ServingPoint(msgspec.Struct, frozen=True, kw_only=True):
    """One measured row, as written (free text kept for the scenario mapping and the report)."""

    file: str
    line: int
    source: str
    engine: str
    engine_version: str
    model: str
    gpu: str
    tp: int
    precision: str
    input_len: str
    output_len: str
    dataset: str
    arrival: str
    arrival_value: str
    metric: Metric
    value: float
    notes: str

    def error(self, field: str, message: str, expected: str | None = None) -> PointsError:
        """A one-line error naming this row's file, line and `field`."""
        return PointsError(message, file=self.file, line=self.line, field=field, expected=expected)


def first_number(text: str) -> float | None:
    """The first number in free text (`~592 (sys 100+...)` -> 592.0), or None when there is none."""
    match = _NUMBER.search(text.replace(",", ""))
    return float(match.group()) if match else None


def shipped_points_path() -> str:
    """The copy of serving_points.csv shipped with llmsim (its provenance is in data/README.md)."""
    return str(resources.files("llmsim.validation").joinpath("data/serving_points.csv"))


def read_points(path: str) -> list[ServingPoint]:
    """Every row of a serving-points CSV, in file order; a bad file or field is a PointsError."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:  # a spreadsheet's BOM is not a column name
            rows = list(csv.reader(fh))
    except FileNotFoundError:
        raise InputFileError("no such file", file=path) from None
    except IsADirectoryError:
        raise InputFileError("is a folder, not a CSV file", file=path) from None
    except UnicodeDecodeError:
        raise InputFileError("not UTF-8 text", file=path) from None
    except csv.Error as err:
        raise InputFileError(f"not CSV: {err}", file=path) from None
    if not rows:
        raise PointsError("empty file", file=path, line=1, expected="a header row: " + ",".join(COLUMNS))
    header = [name.strip() for name in rows[0]]
    missing = [name for name in REQUIRED if name not in header]
    if missing:
        raise PointsError(f"missing column {missing[0]!r}", file=path, line=1, field="header",
                          expected="columns " + ",".join(COLUMNS))
    points = [_point(path, number, header, row) for number, row in enumerate(rows[1:], start=2) if any(row)]
    if not points:
        raise PointsError("no rows after the header", file=path, line=2, expected="at least one measured point")
    return points


def _point(path: str, line: int, header: list[str], row: list[str]) -> ServingPoint:
    """One row; every required field present, tp a positive integer, metric known, value > 0."""
    if len(row) != len(header):
        raise PointsError(f"{len(row)} fields, the header has {len(header)}", file=path, line=line,
                          expected="one field per column (quote fields that hold commas)")
    cells = {name: value.strip() for name, value in zip(header, row)}
    for name in REQUIRED:
        if not cells[name]:
            raise PointsError("empty", file=path, line=line, field=name, expected="a value")
    tp = first_number(cells["tp"])
    if tp is None or tp != int(tp) or tp < 1:
        raise PointsError(f"{cells['tp']!r} is not a tensor-parallel degree", file=path, line=line, field="tp",
                          expected="an integer >= 1")
    if cells["metric"] not in METRICS:
        raise PointsError(f"unknown metric {cells['metric']!r}", file=path, line=line, field="metric",
                          expected="one of " + ", ".join(METRICS))
    try:
        value = float(cells["value"])
    except ValueError:
        value = float("nan")
    if not value > 0 or value == float("inf"):
        raise PointsError(f"{cells['value']!r} is not a positive number", file=path, line=line, field="value",
                          expected="the measured value, a number > 0")
    return ServingPoint(
        file=path, line=line, source=cells["source"], engine=cells.get("engine", ""),
        engine_version=cells.get("engine_version", ""), model=cells["model"], gpu=cells["gpu"], tp=int(tp),
        precision=cells["precision"], input_len=cells["input_len"], output_len=cells["output_len"],
        dataset=cells.get("dataset", ""), arrival=cells["arrival"].lower(), arrival_value=cells["arrival_value"],
        metric=cells["metric"], value=value, notes=cells.get("notes", ""),  # type: ignore[arg-type]
    )
