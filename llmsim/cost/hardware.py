"""The GPU table: Hardware records loaded from shipped JSON data or a user hardware file."""

from __future__ import annotations

import functools
import json
from importlib import resources

import msgspec

from llmsim.errors import ConfigError, InputFileError, UnknownHardwareError
from llmsim.inputs import read_document


class Hardware(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One GPU model: memory, bandwidths, tensor-core peaks and where the figures come from."""

    id: str
    name: str
    memory_bytes: int
    hbm_bandwidth_bytes_per_s: float
    peak_fp16_flops: float
    peak_fp8_flops: float = 0.0
    peak_int8_flops: float = 0.0
    onchip_buffer_bytes: int = 102400
    interconnect: str = "pcie"
    interconnect_bandwidth_bytes_per_s: float = 32e9
    interconnect_latency_s: float = 20e-6
    pcie_bandwidth_bytes_per_s: float = 32e9
    source: str = ""

    def __post_init__(self) -> None:
        if self.interconnect not in ("nvlink", "pcie"):
            raise ConfigError(
                f"GPU {self.id!r}: interconnect {self.interconnect!r}",
                field="interconnect",
                expected="nvlink or pcie",
            )
        for field, (low, high) in _RANGES.items():
            value = getattr(self, field)
            if not low <= value <= high:  # NaN fails too
                side = f">= {low:g}"
                raise ConfigError(f"GPU {self.id!r}: {field} is {value}", field=field,
                                  expected=f"a number {side} and <= {high:g}")


# Plausible ranges of a GPU's figures: outside them, iteration times overflow or divide by zero.
_RANGES: dict[str, tuple[float, float]] = {
    "memory_bytes": (1e6, 1e15), "hbm_bandwidth_bytes_per_s": (1e6, 1e18), "peak_fp16_flops": (1e6, 1e21),
    "interconnect_bandwidth_bytes_per_s": (1e6, 1e18), "pcie_bandwidth_bytes_per_s": (1e6, 1e18),
    "peak_fp8_flops": (0, 1e21), "peak_int8_flops": (0, 1e21), "onchip_buffer_bytes": (0, 1e12),
    "interconnect_latency_s": (0, 1.0),
}



class _Table(msgspec.Struct, forbid_unknown_fields=True):
    gpus: list[Hardware]
    about: str = ""


def _decode_table(data: bytes, where: str) -> dict[str, Hardware]:
    try:
        table = msgspec.json.decode(data, type=_Table)
    except ConfigError as err:
        index = next((i for i, gpu in enumerate(_raw_gpus(data)) if err.message.startswith(f"GPU {gpu!r}")), None)
        err.file = where
        err.field = f"gpus[{index}].{err.field}" if index is not None else err.field
        raise
    except RecursionError:
        raise InputFileError("JSON nested too deeply", file=where, expected="a hardware table") from None
    except msgspec.ValidationError as err:
        raise ConfigError(f"invalid hardware table: {err}", file=where) from None
    except msgspec.DecodeError as err:
        raise InputFileError(f"not valid JSON: {err}", file=where) from None
    return {gpu.id: gpu for gpu in table.gpus}


def _raw_gpus(data: bytes) -> list[object]:
    """The ids of a table's GPU objects, in order (to name the one that failed)."""
    try:
        return [g.get("id") if isinstance(g, dict) else None for g in json.loads(data).get("gpus", [])]
    except (ValueError, AttributeError):
        return []


@functools.lru_cache(maxsize=1)
def _shipped() -> dict[str, Hardware]:
    data = resources.files("llmsim.cost").joinpath("data/hardware.json").read_bytes()
    return _decode_table(data, "llmsim/cost/data/hardware.json")


@functools.lru_cache(maxsize=16)
def _user_table(path: str) -> dict[str, Hardware]:
    """A user file holds either {"gpus": [...]} or a bare list of GPU objects."""
    raw = read_document(path)
    try:
        if isinstance(json.loads(raw), list):
            raw = b'{"gpus": ' + raw + b"}"
    except ValueError as err:
        raise InputFileError(f"not valid JSON: {err}", file=path) from None
    except RecursionError:
        raise InputFileError("JSON nested too deeply", file=path, expected="a hardware table") from None
    return _decode_table(raw, path)


def hardware_table(hardware_file: str | None = None) -> dict[str, Hardware]:
    """All known GPUs: the shipped table, overridden and extended by `hardware_file`."""
    table = dict(_shipped())
    if hardware_file is not None:
        table.update(_user_table(str(hardware_file)))
    return table


def hardware_ids(hardware_file: str | None = None) -> list[str]:
    """Every known GPU id, sorted."""
    return sorted(hardware_table(hardware_file))


PCIE_ALLREDUCE_LATENCY_S = 20e-6  # the all-reduce latency the table gives its PCIe-only GPUs


def with_interconnect(hw: Hardware, kind: str | None) -> Hardware:
    """`hw` with its GPUs linked by `kind` (a node's `interconnect`); None keeps the table's link.

    PCIe is always possible (every GPU has `pcie_bandwidth_bytes_per_s`); NVLink needs figures the
    table has only for GPUs whose default link is NVLink (add others with a hardware file).
    """
    if kind is None or kind == hw.interconnect:
        return hw
    if kind == "pcie":
        return msgspec.structs.replace(hw, interconnect="pcie", interconnect_bandwidth_bytes_per_s=hw.pcie_bandwidth_bytes_per_s,
                                       interconnect_latency_s=PCIE_ALLREDUCE_LATENCY_S)
    raise ConfigError(f"GPU {hw.id!r} has no NVLink figures", field="interconnect",
                      expected="pcie, or a --hardware-file entry for this GPU with interconnect nvlink and its bandwidth")


def get_hardware(hw_id: str, hardware_file: str | None = None) -> Hardware:
    """The Hardware for `hw_id`; unknown ids raise UnknownHardwareError listing the known ids."""
    table = hardware_table(hardware_file)
    try:
        return table[hw_id]
    except KeyError:
        known = ", ".join(sorted(table))
        raise UnknownHardwareError(f"unknown hardware {hw_id!r}", expected=f"one of {known}") from None
