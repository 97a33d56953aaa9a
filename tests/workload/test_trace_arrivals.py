"""Arrival processes: rebased trace times, time scale, windows, limits, Poisson and Gamma gaps."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from llmsim.errors import TraceError, UsageError
from llmsim.workload import ArrivalOptions, TraceRequest, open_trace, with_arrivals
from llmsim.workload.arrivals import inter_arrival_gaps_s


def _requests(times_s: list[float | None]) -> list[TraceRequest]:
    return [
        TraceRequest(id=str(i), line=i + 1, input_tokens=10, output_tokens=5, arrival_s=t)
        for i, t in enumerate(times_s)
    ]


def _arrivals(requests: list[TraceRequest], **options: object) -> list[int]:
    opts = ArrivalOptions(**options)  # type: ignore[arg-type]
    return [t_ns for t_ns, _ in with_arrivals(requests, opts, np.random.default_rng(0))]


def test_trace_times_are_rebased_to_first(fixtures: Path) -> None:
    """The first request arrives at 0 and the others keep their gaps, in integer ns."""
    path = str(fixtures / "mooncake_synthetic_head.jsonl")
    source = list(open_trace(path))
    arrivals = _arrivals(source)
    assert arrivals[0] == 0
    assert arrivals == [round((r.arrival_s - source[0].arrival_s) * 1e9) for r in source]
    assert all(isinstance(t, int) for t in arrivals)


def test_time_scale_two_halves_the_span(fixtures: Path) -> None:
    """time_scale 2 replays twice as fast: every arrival, and so the span, halves."""
    source = list(open_trace(str(fixtures / "azure_code_head.csv")))
    normal = _arrivals(source)
    fast = _arrivals(source, time_scale=2.0)
    assert fast[-1] == pytest.approx(normal[-1] / 2, abs=1)
    assert all(abs(f - n / 2) <= 1 for f, n in zip(fast, normal))


def test_untimed_trace_arrives_at_zero_unless_rate(fixtures: Path) -> None:
    """Seed traces have no arrivals: all at 0 (seed behaviour); a rate spreads them out."""
    source = list(open_trace(str(fixtures / "seed_trace.jsonl")))
    assert set(_arrivals(source)) == {0}
    spread = _arrivals(source, rate=2.0)
    assert spread[0] == 0 and spread == sorted(spread) and spread[-1] > 0


def test_rate_replaces_trace_times_reproducibly(fixtures: Path) -> None:
    """With a rate the trace's timestamps are ignored; the same seed gives the same arrivals."""
    source = list(open_trace(str(fixtures / "azure_code_head.csv")))
    assert _arrivals(source, rate=5.0) == _arrivals(source, rate=5.0)
    assert _arrivals(source, rate=5.0) != _arrivals(source)


def test_window_and_limit() -> None:
    """start/duration cut on the rebased timeline, arrivals measured from start; limit caps count."""
    source = _requests([100.0, 101.0, 102.5, 104.0, 106.0])
    assert _arrivals(source, start_s=1.0, duration_s=3.0) == [0, 1_500_000_000]
    assert _arrivals(source, start_s=1.0, duration_s=3.0, time_scale=2.0) == [0, 750_000_000]
    assert _arrivals(source, limit=2) == [0, 1_000_000_000]
    assert _arrivals(source, start_s=2.0, limit=1) == [500_000_000]
    assert _arrivals(source, limit=0) == []


def test_model_override() -> None:
    """ArrivalOptions.model replaces every request's model."""
    out = list(with_arrivals(_requests([0.0, 1.0]), ArrivalOptions(model="m"), np.random.default_rng(0)))
    assert [r.model for _, r in out] == ["m", "m"]


def test_backwards_time_names_the_line() -> None:
    """A timestamped trace that goes back in time is a TraceError at that line."""
    with pytest.raises(TraceError) as info:
        list(with_arrivals(_requests([0.0, 2.0, 1.0]), ArrivalOptions(), np.random.default_rng(0), source="t.csv"))
    assert (info.value.file, info.value.line) == ("t.csv", 3)


def test_missing_time_in_timed_trace() -> None:
    """Mixing timed and untimed lines is a TraceError."""
    with pytest.raises(TraceError) as info:
        _arrivals(_requests([0.0, None]))
    assert info.value.line == 2


@pytest.mark.parametrize(
    "options",
    [
        {"rate": 0.0},
        {"rate": -1.0},
        {"burstiness": 2.0},
        {"rate": 1.0, "burstiness": 0.0},
        {"time_scale": 0.0},
        {"duration_s": 0.0},
        {"start_s": -1.0},
        {"limit": -1},
    ],
)
def test_invalid_options_are_usage_errors(options: dict[str, float]) -> None:
    """Nonsense options are UsageErrors, raised on the first next()."""
    with pytest.raises(UsageError):
        _arrivals(_requests([0.0]), **options)


def test_streams_from_an_endless_source() -> None:
    """with_arrivals is lazy: it works on an endless generator when limited."""
    endless = (TraceRequest(id=str(i), line=i, input_tokens=1, output_tokens=1) for i in itertools.count())
    out = list(with_arrivals(endless, ArrivalOptions(rate=10.0, limit=5), np.random.default_rng(1)))
    assert len(out) == 5


def _ks_statistic(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sample Kolmogorov-Smirnov statistic: the largest gap between the empirical CDFs."""
    grid = np.sort(np.concatenate([a, b]))
    cdf_a = np.searchsorted(np.sort(a), grid, side="right") / a.size
    cdf_b = np.searchsorted(np.sort(b), grid, side="right") / b.size
    return float(np.max(np.abs(cdf_a - cdf_b)))


def _gaps(rate: float, cv: float | None, n: int, seed: int) -> np.ndarray:
    gaps = inter_arrival_gaps_s(rate, cv, np.random.default_rng(seed))
    return np.fromiter(itertools.islice(gaps, n), dtype=float, count=n)


def test_gamma_cv_one_matches_poisson() -> None:
    """Gamma gaps with CV 1 (drawn as Gamma) are exponential: KS test passes at the 1% level."""
    n = 20_000
    poisson = _gaps(4.0, None, n, seed=11)
    gamma = _gaps(4.0, 1.0, n, seed=12)
    critical = 1.628 * np.sqrt(2.0 / n)  # two-sample KS, alpha = 0.01
    assert _ks_statistic(poisson, gamma) < critical
    # And the one-sample statistic against the exponential CDF itself.
    xs = np.sort(poisson)
    cdf = 1.0 - np.exp(-4.0 * xs)
    upper = np.arange(1, n + 1) / n
    assert float(np.max(np.maximum(upper - cdf, cdf - (upper - 1.0 / n)))) < 1.628 / np.sqrt(n)


def test_gamma_burstiness_sets_cv_and_keeps_mean() -> None:
    """CV 4 gives gaps with mean 1/rate and a coefficient of variation near 4; KS rejects Poisson."""
    n = 200_000
    bursty = _gaps(4.0, 4.0, n, seed=3)
    assert bursty.mean() == pytest.approx(0.25, rel=0.05)
    assert bursty.std() / bursty.mean() == pytest.approx(4.0, rel=0.1)
    assert _ks_statistic(bursty[:20_000], _gaps(4.0, None, 20_000, seed=4)) > 0.1


def test_azure_code_trace_replays_its_own_times(shared_traces: Path) -> None:
    """The whole Azure code trace: 8,819 arrivals from 0 to its last timestamp, rebased."""
    path = str(shared_traces / "AzureLLMInferenceTrace_code.csv")
    arrivals = [t_ns for t_ns, _ in with_arrivals(open_trace(path), ArrivalOptions(), np.random.default_rng(0))]
    assert len(arrivals) == 8819
    # 2023-11-16 18:17:03.9799600 to 19:14:19.9280160
    assert arrivals[0] == 0 and arrivals[-1] == 3_435_948_056_000
    fast = [t for t, _ in with_arrivals(open_trace(path), ArrivalOptions(time_scale=2.0), np.random.default_rng(0))]
    assert fast[-1] == 1_717_974_028_000


def _fifo_waits_s(gaps_s: np.ndarray, service_s: float) -> np.ndarray:
    """Waiting times of a single FIFO server with a fixed service time (Lindley's recursion)."""
    waits = np.zeros(gaps_s.size)
    for i in range(1, gaps_s.size):
        waits[i] = max(0.0, waits[i - 1] + service_s - gaps_s[i])
    return waits


def test_burstier_arrivals_queue_longer_at_the_same_mean_rate() -> None:
    """A queueing proxy (one server, 70% busy): CV 4 arrivals wait far longer at p99 than Poisson."""
    n = 50_000
    poisson = _fifo_waits_s(_gaps(4.0, None, n, seed=5), 0.175)
    bursty_gaps = _gaps(4.0, 4.0, n, seed=5)
    bursty = _fifo_waits_s(bursty_gaps, 0.175)
    assert bursty_gaps.mean() == pytest.approx(0.25, rel=0.1)
    assert np.percentile(bursty, 99) > 5 * np.percentile(poisson, 99)
