"""How far to trust a run: the validation error of the nearest measured points, looked up per run."""

from __future__ import annotations

import functools
from importlib import resources

from typing import Any

import msgspec

from llmsim.cost.calibration import CalibrationProfile
from llmsim.cost.model_spec import ModelSpec
from llmsim.errors import LlmsimError

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


def precision_class(dtype: str) -> str:
    """fp16 and bf16 cost the same (bytes and tensor-core rate): one class, `16-bit`."""
    dtype = dtype.lower()
    return "16-bit" if dtype in ("fp16", "bf16", "float16", "bfloat16") else dtype


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
                        ("precision", lambda p: precision_class(p.precision) == precision_class(precision))):
        narrower = [p for p in pts if keep(p)]
        if narrower:
            pts = narrower
            matched.append(label)
    errors = [abs(p.error_pct) for p in pts]
    return Fidelity(status="validated", **base, matched="same " + ", ".join(matched),  # type: ignore[arg-type]
                    points=len(pts), mape_pct=round(sum(errors) / len(errors), 2),
                    max_abs_error_pct=round(max(errors), 2), sources=sorted({p.source for p in pts}))


def run_fidelity(gpus: list[dict[str, Any]], calibration: str | None, dtype: str | None) -> list[dict[str, Any]]:
    """stats.json's `fidelity`: one entry per distinct (GPU type, model, TP) of the run's replicas."""
    from llmsim.cost.calibration import get_profile, resolve_profile_name
    from llmsim.cost.hardware import get_hardware
    from llmsim.cost.model_spec import load_model_spec

    seen: dict[tuple[str, str, int], dict[str, Any]] = {}
    for g in gpus:
        key = (g["gpu_type"], g["model"], g["tp"])
        if key in seen or not g["model"]:
            continue
        try:
            card, cls = get_hardware(key[0]).name, model_class(load_model_spec(key[1]))
        except LlmsimError:  # a user's hardware file or a local config: nothing measured for it anyway
            card, cls = key[0], "unknown"
        profile = "none" if calibration in (None, "none") else resolve_profile_name(calibration, key[0])
        found = expected_error(profile, card, cls, key[2], dtype or "bf16")
        if found.status != "validated" and profile != "none":
            found.note += _own_error(get_profile(profile, key[0]))
        entry = msgspec.to_builtins(found)
        seen[key] = {"gpu_type": key[0], "model": key[1], **entry}
    return list(seen.values())


def _own_error(profile: CalibrationProfile) -> str:
    """What a profile's own fit says of it, for profiles `llmsim validate` has no points for."""
    if profile.holdout_mape_pct is None:
        return ""
    return (f" (the profile's own held-out error: MAPE {profile.holdout_mape_pct:.1f}% on {profile.source or 'its'}"
            f" measurements of {profile.hardware})")
