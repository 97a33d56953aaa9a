"""How far to trust a run: the validation error of the nearest measured points, looked up per run."""

from __future__ import annotations

import functools
from importlib import resources

import msgspec

from llmsim.cost.model_spec import ModelSpec

FIDELITY_FILE = "data/fidelity.json"


class ValidatedPoint(msgspec.Struct, frozen=True, kw_only=True):
    """One measured point re-simulated by `llmsim validate` under one calibration profile."""

    calibration: str
    source: str
    gpu: str  # the hardware table's card name (ids that name the same card compare equal)
    model: str
    model_class: str
    tp: int
    precision: str
    metric: str
    error_pct: float  # signed: (predicted - measured) / measured


class FidelityTable(msgspec.Struct, kw_only=True):
    """What `llmsim validate --write-fidelity` ships inside the package."""

    about: str = ""
    points: list[ValidatedPoint] = []


class Fidelity(msgspec.Struct, kw_only=True):
    """The `fidelity` section of stats.json for one deployment."""

    status: str  # "validated" | "unvalidated"
    calibration: str
    gpu: str
    model_class: str
    tp: int
    precision: str
    matched: str = ""  # which of GPU / model class / TP / precision the points share with this run
    points: int = 0
    mape_pct: float | None = None
    max_abs_error_pct: float | None = None
    sources: list[str] = []
    note: str = ""

    def summary(self) -> str:
        """One line for the console summary."""
        if self.status != "validated":
            return f"fidelity: {self.note}"
        return (f"fidelity: {self.calibration} on {self.gpu} ({self.matched}): MAPE {self.mape_pct:.1f}% over "
                f"{self.points} measured point(s) from {', '.join(self.sources)}")


def model_class(spec: ModelSpec) -> str:
    """A size class for grouping errors: MoE, or dense by parameter count."""
    if spec.is_moe:
        return "moe"
    billions = spec.param_count / 1e9
    if billions <= 10:
        return "dense<=10B"
    if billions <= 40:
        return "dense10-40B"
    return "dense>40B"


@functools.lru_cache(maxsize=1)
def shipped_table() -> FidelityTable:
    """The validation results shipped with this version (empty when none were written)."""
    path = resources.files("llmsim.cost").joinpath(FIDELITY_FILE)
    if not path.is_file():
        return FidelityTable()
    return msgspec.json.decode(path.read_bytes(), type=FidelityTable)


def expected_error(calibration: str, gpu: str, cls: str, tp: int, precision: str,
                   table: FidelityTable | None = None) -> Fidelity:
    """The error of the measured points nearest to this run: same calibration and GPU, then the
    same model class, TP and precision where such points exist. No point on this GPU: unvalidated.
    """
    table = table if table is not None else shipped_table()
    base = dict(calibration=calibration, gpu=gpu, model_class=cls, tp=tp, precision=precision)
    pts = [p for p in table.points if p.calibration == calibration and p.gpu == gpu]
    if not pts:
        return Fidelity(status="unvalidated", **base,  # type: ignore[arg-type]
                        note=f"no measurement for {gpu} under calibration {calibration}: unvalidated")
    matched = ["GPU"]
    for label, keep in (("model class", lambda p: p.model_class == cls), ("TP", lambda p: p.tp == tp),
                        ("precision", lambda p: p.precision == precision)):
        narrower = [p for p in pts if keep(p)]
        if narrower:
            pts = narrower
            matched.append(label)
    errors = [abs(p.error_pct) for p in pts]
    return Fidelity(status="validated", **base, matched="same " + ", ".join(matched),  # type: ignore[arg-type]
                    points=len(pts), mape_pct=round(sum(errors) / len(errors), 2),
                    max_abs_error_pct=round(max(errors), 2), sources=sorted({p.source for p in pts}))
