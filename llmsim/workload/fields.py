"""Field checks shared by the trace readers: typed values out of decoded rows, or TraceError."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from llmsim.errors import TraceError

_MISSING = object()


class LineContext:
    """Where a row came from, so that every error names file, line and field."""

    __slots__ = ("path", "line")

    def __init__(self, path: str, line: int) -> None:
        self.path = path
        self.line = line

    def error(self, message: str, field: str | None = None, expected: str | None = None) -> TraceError:
        """Build a TraceError located at this line."""
        return TraceError(message, file=self.path, line=self.line, field=field, expected=expected)


def require(row: Mapping[str, Any], name: str, ctx: LineContext) -> Any:
    """Return row[name], or raise a TraceError saying the field is missing."""
    value = row.get(name, _MISSING)
    if value is _MISSING or value is None or value == "":
        raise ctx.error("missing field", field=name, expected="a value")
    return value


def as_int(value: Any, name: str, ctx: LineContext) -> int:
    """An integer from a JSON number or CSV text; integral floats such as 12.0 are accepted."""
    if isinstance(value, bool):
        raise ctx.error(f"got {value!r}", field=name, expected="an integer")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        text = value.strip()
        try:
            return int(text)
        except ValueError:
            try:
                value = float(text)
            except ValueError:
                raise ctx.error(f"got {value!r}", field=name, expected="an integer") from None
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    raise ctx.error(f"got {value!r}", field=name, expected="an integer")


def as_float(value: Any, name: str, ctx: LineContext) -> float:
    """A finite float from a JSON number or CSV text."""
    if isinstance(value, bool):
        raise ctx.error(f"got {value!r}", field=name, expected="a number")
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            raise ctx.error(f"got {value!r}", field=name, expected="a number") from None
    if isinstance(value, (int, float)) and math.isfinite(value):
        return float(value)
    raise ctx.error(f"got {value!r}", field=name, expected="a finite number")


def required_int(row: Mapping[str, Any], name: str, ctx: LineContext) -> int:
    """row[name] as an integer (missing or malformed: one error naming the field)."""
    return as_int(require(row, name, ctx), name, ctx)


def required_float(row: Mapping[str, Any], name: str, ctx: LineContext) -> float:
    """row[name] as a finite float (missing or malformed: one error naming the field)."""
    return as_float(require(row, name, ctx), name, ctx)


def as_str(value: Any, name: str, ctx: LineContext) -> str:
    """A string; integers are accepted and turned into text (ids are often numeric)."""
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise ctx.error(f"got {value!r}", field=name, expected="a string")


def as_int_tuple(value: Any, name: str, ctx: LineContext) -> tuple[int, ...]:
    """A tuple of integers from a JSON array."""
    if not isinstance(value, list):
        raise ctx.error(f"got {value!r}", field=name, expected="an array of integers")
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        raise ctx.error("an element is not an integer", field=name, expected="an array of integers")
    return tuple(value)
