"""Validation results as the fidelity table a run's `fidelity` section is looked up in (llmsim.cost.fidelity)."""

from __future__ import annotations

import os
from collections.abc import Sequence

import msgspec

from llmsim.cost import get_hardware, get_profile
from llmsim.cost.fidelity import FidelityTable, ValidatedPoint
from llmsim.errors import OutputError
from llmsim.validation.evaluate import Result


def profile_name(calibration: str, hardware: str) -> str:
    """The name of the profile a GPU ran under (`default` or a family resolved per GPU; unknown names refused)."""
    return get_profile(None if calibration == "none" else calibration, hardware).name


def fidelity_table(results: Sequence[Result], about: str = "") -> FidelityTable:
    """One ValidatedPoint per predicted row: profile name, GPU card name, model class, TP, dtype, error."""
    points = [
        ValidatedPoint(calibration=profile_name(r.calibration, r.scenario.hardware),
                       source=r.point.source,
                       gpu=get_hardware(r.scenario.hardware).name, model=r.scenario.model,
                       model_class=r.model_class, tp=r.scenario.tp, precision=r.scenario.dtype,
                       metric=r.point.metric, error_pct=round(r.error_pct, 3))
        for r in results if r.ok
    ]
    return FidelityTable(about=about, points=points)


def write_table(table: FidelityTable, path: str) -> None:
    """Write the table as indented JSON, through a temporary file renamed into place."""
    data = msgspec.json.format(msgspec.json.encode(table), indent=1) + b"\n"
    tmp = f"{path}.tmp"
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except OSError as err:
        raise OutputError(f"cannot write the fidelity table: {err.strerror or err}", file=path) from None
