"""The --arrival-process choice: constant gaps are exact; Poisson and Gamma are unchanged by it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from llmsim.cli import main
from llmsim.errors import UsageError
from llmsim.workload import ArrivalOptions, TraceRequest, with_arrivals


def _requests(n: int) -> list[TraceRequest]:
    return [TraceRequest(id=str(i), line=i + 1, input_tokens=10, output_tokens=5) for i in range(n)]


def _arrivals(n: int, seed: int = 0, **options: object) -> list[int]:
    opts = ArrivalOptions(**options)  # type: ignore[arg-type]
    return [t_ns for t_ns, _ in with_arrivals(_requests(n), opts, np.random.default_rng(seed))]


@pytest.mark.parametrize("rate", [1.0, 3.0, 10.0, 20.0, 7.3])
def test_constant_gaps_are_exact(rate: float) -> None:
    """Request i arrives at exactly i / rate (to the nanosecond), the first at 0, with no drift."""
    times = _arrivals(2000, process="constant", rate=rate)
    assert times[0] == 0
    assert times == [round(i / rate * 1e9) for i in range(2000)]
    gaps = np.diff(times)
    assert gaps.max() - gaps.min() <= 1  # only rounding to whole ns


def test_constant_at_ten_per_second_is_one_hundred_ms() -> None:
    """At 10 req/s every gap is 100 ms exactly."""
    assert set(np.diff(_arrivals(500, process="constant", rate=10.0)).tolist()) == {100_000_000}


def test_constant_ignores_the_seed() -> None:
    """Constant arrivals draw no random numbers."""
    assert _arrivals(50, seed=1, process="constant", rate=4.0) == _arrivals(50, seed=2, process="constant", rate=4.0)


def test_poisson_named_or_implied_is_unchanged() -> None:
    """process="poisson" gives exactly what a rate alone always gave (same draws, same seed)."""
    implied = _arrivals(300, seed=5, rate=6.0)
    assert _arrivals(300, seed=5, rate=6.0, process="poisson") == implied
    gaps = np.random.default_rng(5).exponential(1 / 6.0, size=4096)[:299]
    assert implied == [round(t * 1e9) for t in np.concatenate([[0.0], np.cumsum(gaps)]).tolist()]


def test_gamma_named_or_implied_is_unchanged() -> None:
    """process="gamma" with burstiness equals burstiness alone."""
    assert _arrivals(300, seed=2, rate=6.0, burstiness=3.0, process="gamma") == _arrivals(300, seed=2, rate=6.0,
                                                                                           burstiness=3.0)


@pytest.mark.parametrize(("options", "field"), [
    ({"process": "constant"}, "--arrival-process"),
    ({"process": "poisson"}, "--arrival-process"),
    ({"process": "gamma", "rate": 2.0}, "--arrival-process"),
    ({"process": "constant", "rate": 2.0, "burstiness": 2.0}, "--burstiness"),
    ({"process": "poisson", "rate": 2.0, "burstiness": 2.0}, "--burstiness"),
    ({"process": "uniform", "rate": 2.0}, "--arrival-process"),
])
def test_bad_combinations_are_usage_errors(options: dict[str, object], field: str) -> None:
    """A process without a rate, gamma without burstiness, burstiness with another process: refused."""
    with pytest.raises(UsageError) as err:
        _arrivals(3, **options)
    assert err.value.field == field


def _trace(tmp_path: Path, n: int) -> Path:
    path = tmp_path / "t.jsonl"
    path.write_text("".join(json.dumps({"input_tokens": 32, "output_tokens": 4}) + "\n" for _ in range(n)))
    return path


def test_replay_constant_process_from_the_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`llmsim replay --arrival-process constant --arrival-rate 4`: arrivals span (n-1)/4 s exactly."""
    code = main(["replay", "-i", str(_trace(tmp_path, 9)), "--n-engines", "1", "--hardware", "nvidia_H100_SXM",
                 "--model", "llama-2-7b-hf", "--arrival-rate", "4", "--arrival-process", "constant",
                 "--no-outputs", "-q", "--json"])
    assert code == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["arrivals"]["span_s"] == pytest.approx(2.0, abs=1e-9)


def test_replay_constant_without_rate_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--arrival-process constant without --arrival-rate: exit 2 and one line naming the flag."""
    code = main(["replay", "-i", str(_trace(tmp_path, 3)), "--n-engines", "1", "--model", "llama-2-7b-hf",
                 "--arrival-process", "constant", "--no-outputs", "-q"])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert err.count("\n") == 0 and "--arrival-process" in err and "--arrival-rate" in err
