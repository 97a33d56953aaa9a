"""A sweep specification (TOML): a base run configuration and axes (a full grid) and/or explicit points."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import msgspec

from llmsim.errors import ConfigError
from llmsim.runconfig import checked_field, config_fields, read_toml

TOP_KEYS = ("base", "axes", "points")


class SweepPoint(msgspec.Struct, kw_only=True):
    """One configuration of a sweep: its position, the parameters that vary, and every option set."""

    index: int
    params: dict[str, Any]
    fields: dict[str, Any]


class SweepSpec(msgspec.Struct, kw_only=True):
    """The parsed spec: the varying parameter names (column order) and the points in run order."""

    source: str
    params: list[str]
    points: list[SweepPoint]


def read_spec(path: str) -> SweepSpec:
    """Parse and check a sweep spec; every value is checked as `llmsim replay` checks its flag."""
    return spec_from_mapping(read_toml(path, "sweep spec"), path, Path(path).parent)


def spec_from_mapping(data: dict[str, Any], source: str = "<sweep>", base_dir: Path | None = None) -> SweepSpec:
    """A SweepSpec from the spec's tables: `base` (options), `axes` (name -> list), `points` (list of tables)."""
    for key in data:
        if key not in TOP_KEYS:
            raise ConfigError(f"unknown key {key!r}", file=source, field=key, expected="base, axes or points")
    base = config_fields(_table(data, "base", source), source, base_dir, where="base.")
    axes = _axes(_table(data, "axes", source), source, base_dir)
    points = _points(data.get("points", []), source, base_dir)
    names: list[str] = []
    for name in [*(k for p in points for k in p), *axes]:
        if name not in names:
            names.append(name)
    combos = [dict(zip(axes, values)) for values in itertools.product(*axes.values())]
    out: list[SweepPoint] = []
    for point in points or [{}]:
        for combo in combos:
            params = {**point, **combo}
            out.append(SweepPoint(index=len(out), params={k: params[k] for k in names if k in params},
                                  fields={**base, **params}))
    return SweepSpec(source=source, params=names, points=out)


def _table(data: dict[str, Any], key: str, source: str) -> dict[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise ConfigError(f"{key} is not a table", file=source, field=key, expected=f"[{key}]")
    return value


def _axes(table: dict[str, Any], source: str, base_dir: Path | None) -> dict[str, list[Any]]:
    axes: dict[str, list[Any]] = {}
    for key, values in table.items():
        if not isinstance(values, list) or not values:
            raise ConfigError("an axis is a non-empty list of values", file=source, field=f"axes.{key}",
                              expected=f"{key} = [value, ...]")
        checked = [checked_field(key, v, source, base_dir, where="axes.") for v in values]
        name = next(iter(checked[0]))
        axes[name] = [c[name] for c in checked]
    return axes


def _points(points: Any, source: str, base_dir: Path | None) -> list[dict[str, Any]]:
    if not isinstance(points, list) or not all(isinstance(p, dict) for p in points):
        raise ConfigError("points is a list of tables", file=source, field="points", expected="[[points]] tables")
    return [config_fields(p, source, base_dir, where=f"points[{i}].") for i, p in enumerate(points)]
