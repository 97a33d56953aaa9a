"""Date-time text (as in the Azure traces) to seconds since the Unix epoch, UTC."""

from __future__ import annotations

import calendar
import re

# 2023 schema: "2023-11-16 18:17:03.9799600"; 2024 schema adds an offset: "...009930+00:00".
_DATETIME = re.compile(
    r"\s*(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?"
    r"\s*(Z|[+-]\d{2}:?\d{2})?\s*$"
)


def parse_datetime_s(text: str) -> tuple[int, float] | None:
    """(whole seconds since the epoch, fraction of a second) for an ISO-like date-time (naive =
    UTC), or None if malformed. The two parts stay apart so no precision is lost to a float of
    about 1.7e9 (whose resolution is 0.24 µs).

    Parsed by hand rather than with `datetime.fromisoformat`, which rejects the 7 fractional
    digits of the Azure traces on Python 3.10.
    """
    match = _DATETIME.match(text)
    if match is None:
        return None
    year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
    if not (1 <= month <= 12 and 1 <= day <= 31 and hour < 24 and minute < 60 and second < 61):
        return None
    whole_s = calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0))
    fraction = match.group(7)
    fraction_s = int(fraction) / 10 ** len(fraction) if fraction else 0.0
    return whole_s - _offset_s(match.group(8)), fraction_s


def _offset_s(offset: str | None) -> int:
    """The UTC offset in seconds of "+HH:MM", "-HHMM" or "Z"."""
    if not offset or offset == "Z":
        return 0
    sign = -1 if offset[0] == "-" else 1
    digits = offset[1:].replace(":", "")
    return sign * (int(digits[:2]) * 3600 + int(digits[2:]) * 60)
