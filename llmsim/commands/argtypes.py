"""Argument types shared by the commands: each refuses a bad value with one line argparse reports."""

from __future__ import annotations

import argparse
from collections.abc import Callable


def positive_float(text: str) -> float:
    """A finite number > 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text} is not a finite number > 0")
    return value


def positive_int(text: str) -> int:
    """An integer > 0."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text} is not > 0")
    return value


def fraction(text: str) -> float:
    """A number in (0, 1]."""
    value = positive_float(text)
    if value > 1:
        raise argparse.ArgumentTypeError(f"{text} is not in (0, 1]")
    return value


def int_range(low: int, high: int) -> Callable[[str], int]:
    """An integer type accepting [low, high] (argparse names the option in the error)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{text} is out of range (expected an integer from {low:,} to {high:,})")
        return value

    parse.__name__ = "integer"
    return parse


def float_range(low: float, high: float, *, above_low: bool = False) -> Callable[[str], float]:
    """A finite-number type accepting [low, high] (or (low, high] with `above_low`)."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        ok = (low < value if above_low else low <= value) and value <= high
        if not ok:  # NaN fails both comparisons
            side = ">" if above_low else ">="
            raise argparse.ArgumentTypeError(f"{text} is out of range (expected a number {side} {low:g} and "
                                             f"<= {high:g})")
        return value

    parse.__name__ = "number"
    return parse


SEED = int_range(0, 2**63 - 1)  # numpy's generators take a non-negative seed
MAX_SECONDS = 1e9  # ~31 years of simulated or trace time: beyond it is a unit mistake
