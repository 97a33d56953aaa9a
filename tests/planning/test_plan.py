"""llmsim plan: the monotone search, and the smallest count found with fewer runs than the grid."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from llmsim.cli import main
from llmsim.errors import UsageError
from llmsim.planning.plan import Candidate, Criterion, Planner, judge, parse_slo, run_plan
from llmsim.planning.prices import load_prices
from llmsim.planning.runner import Runner
from llmsim.planning.search import MonotoneSearch
from llmsim.planning.sweep import run_sweep
from tests.planning.conftest import write_trace


@pytest.mark.parametrize("k", [1, 2, 4])
@pytest.mark.parametrize("grow", [True, False])
def test_search_finds_every_threshold(k: int, grow: bool) -> None:
    for threshold in range(1, 42):
        search, tried = MonotoneSearch(40, grow=grow), []
        while not search.done:
            for value in search.probes(k):
                tried.append(value)
                search.record(value, value >= threshold)
        assert search.answer == (threshold if threshold <= 40 else None)
        assert len(tried) < 40 and len(set(tried)) == len(tried)


def test_parse_slo() -> None:
    assert parse_slo("ttft_p99=2,tpot_p99=0.08") == [Criterion("ttft", "p99", 2.0), Criterion("tpot", "p99", 0.08)]
    assert parse_slo("ttft=0.5") == [Criterion("ttft", None, 0.5)]
    for bad in ("ttft_p98=1", "latency=1", "ttft_p99=-1", "e2e=3", "ttft_p99=x"):
        with pytest.raises(UsageError):
            parse_slo(bad)


BASE_RATE = 60.0
SLO = "ttft_p99=0.08,tpot_p99=0.03"


def test_plan_finds_the_grid_threshold_with_fewer_runs(tmp_path: Path) -> None:
    """The count the grid says is the smallest meeting the SLOs, found in fewer runs than the grid."""
    trace = write_trace(tmp_path / "t.jsonl", n=150)
    base = {"input": str(trace), "model": "llama-3.1-8b-instruct", "arrival_rate": BASE_RATE}
    criteria = parse_slo(SLO)
    cap = 12
    grid = run_sweep({"base": {**base, "hardware": "nvidia_A100_80G_SXM", "slo_ttft_s": 0.08, "slo_tpot_s": 0.03},
                      "axes": {"n_engines": list(range(1, cap + 1))}}, tmp_path / "grid", workers=1)
    verdicts = [judge(_stats(tmp_path / "grid", r["config_hash"]), criteria, None) is None for r in grid.rows]
    threshold = verdicts.index(True) + 1
    assert 1 < threshold < cap and all(verdicts[threshold - 1:])  # a real threshold inside the range
    result = run_plan(base, ["nvidia_A100_80G_SXM"], [1], criteria, str(tmp_path / "plan"), max_replicas=cap,
                      workers=1)
    (row,) = result.rows
    assert row["replicas"] == threshold and row["status"] == "ok" and row["rank"] == 1
    assert result.runs == row["runs"] < cap


def _stats(out: Path, key: str) -> dict:  # type: ignore[type-arg]
    import json

    return json.loads((out / "points" / key / "stats.json").read_text())


def test_ranked_by_cost_and_max_rate(tmp_path: Path) -> None:
    trace = write_trace(tmp_path / "t.jsonl", n=100)
    base = {"input": str(trace), "model": "llama-3.1-8b-instruct", "arrival_rate": BASE_RATE}
    runner = Runner(tmp_path / "runs")
    planner = Planner(base, [Candidate("nvidia_H100", 1), Candidate("nvidia_A100_80G_SXM", 1)], parse_slo(SLO),
                      runner, max_replicas=16, workers=1)
    result = planner.table(load_prices())
    costs = [r["cost_per_hour_usd"] for r in result.rows]
    assert costs == sorted(costs) and [r["rank"] for r in result.rows] == [1, 2]
    # --max-rate: the highest rate 2 H100 replicas sustain; a slightly higher rate fails, it passes
    rate = run_plan(base, ["nvidia_H100"], [1], parse_slo(SLO), str(tmp_path / "runs"), max_rate=True, replicas=2,
                    rate_range=(1.0, 5000.0), workers=2)
    (row,) = rate.rows
    assert row["status"] == "ok" and 1.0 < row["max_rate_rps"] < 5000.0
    assert all(p["passed"] == (p["value"] <= row["max_rate_rps"]) for p in rate.probes)


def test_cli_plan_csv_and_no_fit(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    trace = write_trace(tmp_path / "t.jsonl", n=40)
    args = ["plan", "--input", str(trace), "--model", "llama-3.1-70b-instruct", "--rate", "5", "--gpus", "nvidia_H100",
            "--tp", "1,4", "--slo", "ttft_p99=2,tpot_p99=0.1", "--attainment", "0.9", "-o", str(tmp_path / "p"), "-q",
            "--max-replicas", "4", "-j", "1"]
    assert main(args) == 0
    with open(tmp_path / "p" / "plan.csv", newline="") as f:
        got = {r["tp"]: r for r in csv.DictReader(f)}
    assert got["4"]["status"] == "ok" and got["4"]["rank"] == "1" and got["4"]["replicas"] == "1"
    assert got["1"]["status"] == "model does not fit" and got["1"]["runs"] == "1"
    assert "wrote" in capsys.readouterr().out
    assert main(["plan", "--gpus", "nvidia_H100", "--slo", "ttft_p99=2", "--max-rate"]) == 2  # needs --replicas


@pytest.mark.parametrize(("flag", "value", "needle"), [("--gpus", "nvidia_H900", "unknown GPU id 'nvidia_H900'"),
                                                       ("--tp", "3", "TP 3 is not 1, 2, 4, 8 or 16")])
def test_cli_plan_bad_candidates(tmp_path: Path, capsys: pytest.CaptureFixture[str], flag: str, value: str,
                                 needle: str) -> None:
    args = {"--gpus": "nvidia_H100", "--tp": "1", flag: value}
    assert main(["plan", "--slo", "ttft_p99=1", "-o", str(tmp_path / "p"), *[x for kv in args.items() for x in kv]]) == 2
    err = capsys.readouterr().err
    assert needle in err and err.count("\n") == 1
    assert not (tmp_path / "p").exists()
