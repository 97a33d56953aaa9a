"""Token-length distributions for synthetic workloads: fixed, uniform, normal, lognormal, resampled."""

from __future__ import annotations

import math
from typing import Protocol

import numpy as np

from llmsim.errors import UsageError
from llmsim.workload.formats import open_trace


class LengthDistribution(Protocol):
    """Draws token counts; values are rounded and clipped to at least 1 by the caller."""

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """`size` draws as floats or integers."""
        ...


class Fixed:
    """Always the same length."""

    def __init__(self, value: float) -> None:
        self.value = value

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        return np.full(size, self.value)


class Uniform:
    """Integers uniform on [low, high], both included."""

    def __init__(self, low: float, high: float) -> None:
        if high < low:
            raise UsageError(f"uniform needs low <= high, got {low}:{high}")
        self.low, self.high = int(low), int(high)

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        return rng.integers(self.low, self.high + 1, size=size)


class Normal:
    """Normal with the given mean and standard deviation (clipped at 1 afterwards)."""

    def __init__(self, mean: float, std: float) -> None:
        self.mean, self.std = mean, std

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        return rng.normal(self.mean, self.std, size=size)


class LogNormal:
    """Lognormal whose lengths have the given mean and standard deviation (not those of the log)."""

    def __init__(self, mean: float, std: float) -> None:
        if mean <= 0:
            raise UsageError(f"lognormal needs a mean > 0, got {mean}")
        self.sigma = math.sqrt(math.log1p((std / mean) ** 2))
        self.mu = math.log(mean) - self.sigma**2 / 2

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        return rng.lognormal(self.mu, self.sigma, size=size)


class Resampled:
    """Draws with replacement from observed lengths (for example a real trace's prompts)."""

    def __init__(self, values: np.ndarray) -> None:
        self.values = values

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        return self.values[rng.integers(0, self.values.size, size=size)]


_PARAMETRIC: dict[str, tuple[type, int]] = {
    "fixed": (Fixed, 1),
    "uniform": (Uniform, 2),
    "normal": (Normal, 2),
    "lognormal": (LogNormal, 2),
}
SPEC_HELP = "fixed:N | uniform:LOW:HIGH | normal:MEAN:STD | lognormal:MEAN:STD | trace:PATH"


def trace_lengths(path: str, fmt: str = "auto") -> tuple[np.ndarray, np.ndarray]:
    """(input, output) token counts of every valid request of a trace, as int64 arrays."""
    pairs = [(r.input_tokens, r.output_tokens) for r in open_trace(path, fmt)]
    both = np.array([p for p in pairs if p[0] > 0 and p[1] > 0], dtype=np.int64).reshape(-1, 2)
    if both.size == 0:
        raise UsageError("no request with valid token counts to resample", file=path)
    return both[:, 0], both[:, 1]


def parse_length_spec(spec: str, column: str) -> LengthDistribution:
    """A distribution from text such as `lognormal:1000:800`; `column` is input or output,
    used by `trace:PATH` to pick which lengths to resample."""
    name, _, rest = spec.partition(":")
    if name == "trace":
        if not rest:
            raise UsageError(f"bad length spec {spec!r}", expected=SPEC_HELP)
        inputs, outputs = trace_lengths(rest)
        return Resampled(inputs if column == "input" else outputs)
    if name not in _PARAMETRIC:
        raise UsageError(f"unknown length distribution {name!r}", expected=SPEC_HELP)
    cls, arity = _PARAMETRIC[name]
    try:
        params = [float(part) for part in rest.split(":")] if rest else []
    except ValueError:
        raise UsageError(f"bad numbers in length spec {spec!r}", expected=SPEC_HELP) from None
    if len(params) != arity or not all(math.isfinite(p) and p >= 0 for p in params):
        raise UsageError(f"bad length spec {spec!r}", field=f"--{column}-tokens", expected=SPEC_HELP)
    if any(p > MAX_SPEC_TOKENS for p in params):
        raise UsageError(f"length spec {spec!r} asks for more than {MAX_SPEC_TOKENS:,} tokens",
                         field=f"--{column}-tokens", expected=f"token counts from 0 to {MAX_SPEC_TOKENS:,}")
    return cls(*params)


MAX_SPEC_TOKENS = 10_000_000  # the largest request a replay accepts (llmsim.preflight.MAX_TOKENS_PER_REQUEST)


def draw_lengths(
    dist: LengthDistribution, rng: np.random.Generator, size: int, max_tokens: int | None
) -> np.ndarray:
    """Draws rounded to integers and clipped to [1, max_tokens]."""
    values = np.rint(dist.sample(rng, size)).astype(np.int64)
    return np.clip(values, 1, max_tokens if max_tokens is not None else None)
