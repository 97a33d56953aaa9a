"""One run configuration: ReplayOptions from a TOML file and flags, checked as the flags are."""

from __future__ import annotations

import argparse
import sys
import typing
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

import msgspec

from llmsim.errors import ConfigError, InputFileError
from llmsim.options import ReplayOptions

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

EXAMPLES = Path(__file__).resolve().parent / "examples"  # package data: present in every install
EXAMPLE_RATE = 2.0
FIELDS = frozenset(ReplayOptions.__struct_fields__)
# Input files named in a configuration file are relative to that file's folder.
PATH_FIELDS = ("input", "environment", "environment_change_file", "hardware_file")


def read_toml(path: str, what: str) -> dict[str, Any]:
    """A TOML file's tables; unreadable or invalid files are one-line errors naming `what` and the file."""
    try:
        return tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as err:
        raise InputFileError(f"cannot read the {what}: {err.strerror}", file=path) from None
    except UnicodeDecodeError:
        raise InputFileError("not UTF-8 text", file=path) from None
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"not valid TOML: {err}", file=path) from None


def read_config(path: str) -> dict[str, Any]:
    """The ReplayOptions fields of a TOML run configuration (unknown keys and bad values are errors)."""
    return config_fields(read_toml(path, "configuration"), path, base_dir=Path(path).parent)


def config_fields(data: Mapping[str, Any], source: str, base_dir: Path | None = None,
                  where: str = "") -> dict[str, Any]:
    """Check a mapping of option names (dashes or underscores) to values; return ReplayOptions fields.

    `source` names the file in errors, `where` the table inside it (e.g. "base." or "axes.").
    """
    out: dict[str, Any] = {}
    for key, value in data.items():
        out.update(checked_field(key, value, source, base_dir, where))
    return out


def checked_field(key: str, value: Any, source: str, base_dir: Path | None = None,
                  where: str = "") -> dict[str, Any]:
    """One option from a file: its field name and checked value ({} never; errors name file and key)."""
    name = key.replace("-", "_")
    if name not in FIELDS:
        raise ConfigError(f"unknown key {key!r}", file=source, field=where + key,
                          expected="a replay option such as input, hardware, n_engines, tp, routing_policy, "
                                   "arrival_rate (`llmsim replay --help`, with _ for -)")
    if name == "calibration" and value == "none":
        return {name: None}
    try:
        value = msgspec.convert(value, _hints()[name])
    except msgspec.ValidationError as err:
        raise ConfigError(str(err).replace(" - at `$`", ""), file=source, field=where + key) from None
    _check_like_flag(name, value, source, where + key)
    if name in PATH_FIELDS and base_dir is not None and isinstance(value, str) and not Path(value).is_absolute():
        value = str(base_dir / value)
    return {name: value}


@cache
def _hints() -> dict[str, Any]:
    return typing.get_type_hints(ReplayOptions)


@cache
def _flag_actions() -> dict[str, argparse.Action]:
    """The `llmsim replay` flag of each ReplayOptions field that has one (its type and choices)."""
    from llmsim.commands.replay import add_arguments

    parser = argparse.ArgumentParser(argument_default=argparse.SUPPRESS)
    add_arguments(parser)
    return {a.dest: a for a in parser._actions if a.dest in FIELDS}


def _check_like_flag(name: str, value: Any, source: str, field: str) -> None:
    """Apply the flag's own range check and choices to a file value."""
    action = _flag_actions().get(name)
    if action is None or value is None or isinstance(value, bool):
        return
    if action.choices is not None and value not in action.choices:
        raise ConfigError(f"{value!r} is not a valid choice", file=source, field=field,
                          expected="one of " + ", ".join(map(str, action.choices)))
    if callable(action.type):
        try:
            action.type(str(value))
        except (argparse.ArgumentTypeError, ValueError) as err:
            raise ConfigError(str(err), file=source, field=field) from None
    if name.startswith("slo_") and not value > 0:
        raise ConfigError(f"{value} is not > 0", file=source, field=field)


# What `--engine` sets unless given: vLLM V1 (v0.12 on) is llmsim's default; V0 (0.4-0.6) computed each
# batch after the previous one's results and kept no prefix cache unless asked.
ENGINE_DEFAULTS: dict[str, dict[str, Any]] = {
    "vllm-v1": {"calibration": "vllm-v1", "async_scheduling": True, "enable_prefix_caching": True},
    "vllm-v0": {"calibration": "vllm-v0", "async_scheduling": False, "enable_prefix_caching": False},
}


def resolve_options(from_file: Mapping[str, Any], from_flags: Mapping[str, Any]) -> ReplayOptions:
    """Defaults, then the engine's, then the file, then the flags. With no trace and no cluster anywhere: the bundled example."""
    merged = {**from_file, **from_flags}
    if merged.get("engine") is not None:
        merged = {**ENGINE_DEFAULTS[merged["engine"]], **merged}
    if not any(merged.get(k) is not None for k in ("input", "environment", "n_engines")):
        merged["input"] = str(EXAMPLES / "trace.jsonl")
        merged["environment"] = str(EXAMPLES / "env.json")
        if merged.get("arrival_rate") is None and not merged.get("concurrency"):
            merged["arrival_rate"] = EXAMPLE_RATE
    elif merged.get("input") is None:
        merged["input"] = str(EXAMPLES / "trace.jsonl")
    return ReplayOptions(**merged)


def options_from_mapping(data: Mapping[str, Any], source: str = "<configuration>",
                         base_dir: Path | None = None) -> ReplayOptions:
    """ReplayOptions from a mapping of option names (the Python API's form of a configuration file)."""
    return resolve_options(config_fields(data, source, base_dir), {})
