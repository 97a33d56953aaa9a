"""Date-time text (as in the Azure traces) to seconds since the Unix epoch, UTC."""

from __future__ import annotations

import calendar
import functools
import re

# 2023 schema: "2023-11-16 18:17:03.9799600"; 2024 schema adds an offset: "...009930+00:00".
_DATETIME = re.compile(
    r"\s*(\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?\s*(Z|[+-]\d{2}:?\d{2})?\s*$"
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
    whole_s = _whole_seconds(match.group(1))
    if whole_s is None:
        return None
    fraction = match.group(2)
    fraction_s = int(fraction) / 10 ** len(fraction) if fraction else 0.0
    return whole_s - _offset_s(match.group(3)), fraction_s


@functools.lru_cache(maxsize=4096)
def _whole_seconds(stamp: str) -> int | None:
    """Epoch seconds of "YYYY-MM-DD HH:MM:SS" (cached: neighbouring requests share a second)."""
    year, month, day = int(stamp[0:4]), int(stamp[5:7]), int(stamp[8:10])
    hour, minute, second = int(stamp[11:13]), int(stamp[14:16]), int(stamp[17:19])
    if not (1 <= month <= 12 and 1 <= day <= 31 and hour < 24 and minute < 60 and second < 61):
        return None
    return calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0))


def _offset_s(offset: str | None) -> int:
    """The UTC offset in seconds of "+HH:MM", "-HHMM" or "Z"."""
    if not offset or offset == "Z":
        return 0
    sign = -1 if offset[0] == "-" else 1
    digits = offset[1:].replace(":", "")
    return sign * (int(digits[:2]) * 3600 + int(digits[2:]) * 60)
