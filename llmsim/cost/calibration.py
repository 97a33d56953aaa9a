"""Named calibration profiles: efficiency factors and overheads fitted from measured timings."""

from __future__ import annotations

import fnmatch
import functools
from importlib import resources
from typing import Any

import msgspec

from llmsim.errors import ConfigError


class OpCalibration(msgspec.Struct, frozen=True, kw_only=True):
    """Efficiencies and launch overhead fitted for one operator (overrides the profile-wide values)."""

    compute_efficiency: float
    memory_efficiency: float
    kernel_overhead_s: float = 0.0


class CalibrationProfile(msgspec.Struct, frozen=True, kw_only=True):
    """Fractions of peak reached and fixed costs; `none` is the pure roofline (1, 1, 0...)."""

    name: str
    compute_efficiency: float = 1.0
    memory_efficiency: float = 1.0
    attention_efficiency: float = 1.0  # extra factor on attention kernels (both bounds)
    kernel_overhead_s: float = 0.0  # fixed cost added to every operator launch
    iteration_overhead_s: float = 0.0  # scheduler, sampling, launch of one iteration
    per_layer_overhead_s: float = 0.0  # per transformer layer per iteration (launch and framework cost)
    per_seq_overhead_s: float = 0.0  # per sequence in the batch (sampling, bookkeeping)
    # Per request served online (an HTTP API server in front of the engine): receiving and tokenising the
    # prompt, handing it to the engine core, detokenising and streaming tokens back. Not iteration time.
    frontend_overhead_s: float = 0.0
    allreduce_efficiency: float = 1.0  # fraction of interconnect bandwidth an all-reduce reaches
    allreduce_latency_s: float | None = None  # overrides the hardware table's interconnect latency
    allreduce_step_latency_s: float = 0.0  # per ring step, 2 (tp - 1) of them (NCCL rings; ~0 for one-shot kernels)
    # The engine's own all-reduce kernel for small messages (vLLM's custom all-reduce, on by default
    # since v0.4.1): its fixed latency, with no per-ring-step cost; None: NCCL for every message.
    custom_allreduce_latency_s: float | None = None
    # ... plus this per doubling of the TP group (x log2 tp): every GPU waits for the flags of all its peers,
    # so for the last of them to arrive, and the expected latest of n jittery arrivals grows like log n.
    custom_allreduce_doubling_latency_s: float = 0.0
    gqa_shared_kv: bool = True  # False: attention kernels re-read K/V once per query head (pre-GQA kernels)
    token_tile: int = 1  # GEMM rows are padded to a multiple of this (tensor-core tile height)
    operators: dict[str, OpCalibration] = {}
    hardware: str = "*"
    source: str = ""
    how: str = ""
    fit_mape_pct: float | None = None
    holdout_mape_pct: float | None = None

    def __post_init__(self) -> None:
        for field in ("compute_efficiency", "memory_efficiency", "attention_efficiency"):
            value = getattr(self, field)
            if not 0.0 < value <= 1.0:
                raise ConfigError(f"profile {self.name!r}: {value} out of range", field=field, expected="0 < x <= 1")
        if not 0.0 < self.allreduce_efficiency <= 2.0:  # NVLink SHARP all-reduces beat the one-way link figure
            raise ConfigError(f"profile {self.name!r}: out of range", field="allreduce_efficiency",
                              expected="0 < x <= 2")


NONE = CalibrationProfile(name="none", source="pure roofline", how="no calibration")


class CalibrationFile(msgspec.Struct):
    """The shipped calibration.json layout (read here, written by `llmsim calibrate` and fit_modern.py)."""

    about: str
    # The family `--calibration default` means; a family maps GPU id patterns to profiles, first match wins.
    default: str
    families: dict[str, dict[str, str]]
    profiles: list[CalibrationProfile]
    allreduce_fit: dict[str, float] = {}
    modern_fit: dict[str, Any] = {}  # scripts/fit_modern.py's parameters (llmsim/validation/fit.py)


@functools.lru_cache(maxsize=1)
def shipped_calibration() -> CalibrationFile:
    """calibration.json inside the package, read once."""
    data = resources.files("llmsim.cost").joinpath("data/calibration.json").read_bytes()
    try:
        return msgspec.json.decode(data, type=CalibrationFile)
    except (msgspec.ValidationError, msgspec.DecodeError) as err:
        raise ConfigError(f"invalid calibration data: {err}", file="llmsim/cost/data/calibration.json") from None


# Profiles added in this process (a fit under way, a user's own file): looked up before the
# shipped ones, so that `--calibration NAME` and the cost service resolve them like any other.
_REGISTERED: dict[str, CalibrationProfile] = {}


def register_profile(profile: CalibrationProfile) -> None:
    """Make `profile` selectable by its name in this process (replaces one of the same name)."""
    _REGISTERED[profile.name] = profile


def profile_names() -> list[str]:
    """Every selectable name: `default`, `none`, the engine families, then single profiles."""
    shipped = shipped_calibration()
    names = {p.name for p in shipped.profiles} | set(_REGISTERED)
    return ["default", "none", *sorted(shipped.families), *sorted(names)]


def default_family() -> str:
    """The engine family `--calibration default` selects."""
    return shipped_calibration().default


def family_profile_name(family: str, hw_id: str) -> str:
    """The profile an engine family uses on a GPU: its first GPU pattern matching the id."""
    for pattern, name in shipped_calibration().families[family].items():
        if fnmatch.fnmatchcase(hw_id, pattern):
            return name
    raise ConfigError(f"no {family} calibration for {hw_id!r}", file="llmsim/cost/data/calibration.json")


def default_profile_name(hw_id: str) -> str:
    """The profile `--calibration default` gives a GPU."""
    return family_profile_name(default_family(), hw_id)


def resolve_profile_name(name: str, hw_id: str) -> str:
    """A family name (or `default`) resolved to the profile it uses on this GPU; other names as given."""
    if name == "default":
        name = default_family()
    if name in shipped_calibration().families:
        return family_profile_name(name, hw_id)
    return name


def get_profile(name: str | None, hw_id: str) -> CalibrationProfile:
    """Resolve `--calibration NAME`: None or `none` = pure roofline, `default` or a family = per GPU."""
    if name is None or name == "none":
        return NONE
    name = resolve_profile_name(name, hw_id)
    if name in _REGISTERED:
        return _REGISTERED[name]
    for profile in shipped_calibration().profiles:
        if profile.name == name:
            return profile
    raise ConfigError(f"unknown calibration profile {name!r}", field="--calibration",
                      expected="one of " + ", ".join(profile_names()))
