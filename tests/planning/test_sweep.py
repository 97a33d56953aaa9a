"""llmsim sweep: the grid, sweep.csv, resuming by configuration hash, identical rows on every backend."""

from __future__ import annotations

import csv
import os
import shutil
import sys
from pathlib import Path

import pytest

from llmsim.cli import main
from llmsim.planning.sweep import run_sweep


def rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_grid_rows_and_costs(spec: Path, tmp_path: Path) -> None:
    result = run_sweep(spec, tmp_path / "out", workers=1)
    got = rows(tmp_path / "out" / "sweep.csv")
    assert len(got) == 8 and result.runs == 8 and not result.errors
    assert [(r["hardware"], r["n_engines"], r["routing_policy"]) for r in got[:3]] == [
        ("nvidia_H100", "1", "round-robin"), ("nvidia_H100", "1", "least-loaded"), ("nvidia_H100", "2", "round-robin")]
    for r in got:
        assert r["completed"] == "120" and r["gpus"] == r["n_engines"]
        per_gpu = {"nvidia_H100": 3.99, "nvidia_A100_80G_SXM": 2.79}[r["hardware"]]
        assert float(r["cost_per_hour_usd"]) == pytest.approx(per_gpu * int(r["gpus"]))
        expected = float(r["cost_per_hour_usd"]) / 3600 / float(r["output_tokens_per_s"]) * 1e6
        assert float(r["cost_per_million_output_tokens_usd"]) == pytest.approx(expected, rel=1e-5)
        assert float(r["ttft_p50_s"]) <= float(r["ttft_p90_s"]) <= float(r["ttft_p99_s"])
    # more replicas of the same GPU never make TTFT p99 worse here, and A100 is slower than H100
    by = {(r["hardware"], r["n_engines"], r["routing_policy"]): float(r["ttft_p99_s"]) for r in got}
    assert by[("nvidia_A100_80G_SXM", "1", "round-robin")] > by[("nvidia_H100", "1", "round-robin")]


def test_resume_skips_points_already_run(spec: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    first = run_sweep(spec, out, workers=1)
    text = (out / "sweep.csv").read_text()
    again = run_sweep(spec, out, workers=1)
    assert again.runs == 0 and (out / "sweep.csv").read_text() == text
    shutil.rmtree(out / "points" / first.rows[5]["config_hash"])
    (out / "points" / first.rows[6]["config_hash"] / "stats.json").write_text('{"complete": tr')  # torn write
    third = run_sweep(spec, out, workers=1)
    assert third.runs == 2 and (out / "sweep.csv").read_text() == text
    # a changed trace is a different configuration: everything runs again
    with open(spec.parent / "t.jsonl", "a") as f:
        f.write('{"input_tokens": 10, "output_tokens": 5}\n')
    assert run_sweep(spec, out, workers=1).runs == 8


def test_worker_counts_give_identical_csv(spec: Path, tmp_path: Path) -> None:
    run_sweep(spec, tmp_path / "one", workers=1)
    run_sweep(spec, tmp_path / "two", workers=2)
    assert (tmp_path / "one" / "sweep.csv").read_text() == (tmp_path / "two" / "sweep.csv").read_text()


def test_ray_backend_matches_process_pool(spec: Path, tmp_path: Path) -> None:
    """A real local Ray runtime started by the sweep. CI installs the ray extra and sets
    LLMSIM_REQUIRE_RAY=1, so this test fails there (never skips) if Ray is missing."""
    try:
        import ray  # noqa: F401
    except ImportError:
        if os.environ.get("LLMSIM_REQUIRE_RAY") == "1":
            raise
        pytest.skip("ray is not installed (pip install -e '.[ray]')")
    run_sweep(spec, tmp_path / "pool", workers=2)
    run_sweep(spec, tmp_path / "ray", backend="ray", workers=2)
    assert (tmp_path / "ray" / "sweep.csv").read_text() == (tmp_path / "pool" / "sweep.csv").read_text()


def test_ray_missing_is_one_line(spec: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray now fails as when it is not installed
    assert main(["sweep", str(spec), "--backend", "ray", "-o", str(tmp_path / "out"), "-q"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "pip install 'llmsim[ray]'" in err, err


def test_cli_writes_table_and_per_point_outputs(spec: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    assert main(["sweep", str(spec), "-o", str(out), "-j", "1", "--per-point-outputs", "-q"]) == 0
    shown = capsys.readouterr().out
    assert "ttft_p99_s" in shown and "wrote" in shown
    first = rows(out / "sweep.csv")[0]
    folder = out / "points" / first["config_hash"]
    assert {"stats.json", "requests.jsonl", "events.jsonl"} <= {p.name for p in folder.iterdir()}


@pytest.mark.parametrize(("text", "needle"), [
    ("[axes]\nhardwar = ['nvidia_H100']\n", "spec.toml: axes.hardwar: unknown key 'hardwar'"),
    ("[axes]\ntp = [1, 3]\n", "spec.toml: axes.tp: 3 is not 1, 2, 4, 8 or 16"),
    ("[axes]\ntp = 2\n", "spec.toml: axes.tp: an axis is a non-empty list"),
    ("[base]\nseed = 'x'\n", "spec.toml: base.seed: Expected `int`, got `str`"),
    ("[grid]\n", "spec.toml: grid: unknown key 'grid'"),
])
def test_bad_spec_is_one_line_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, needle: str) -> None:
    (tmp_path / "spec.toml").write_text(text)
    assert main(["sweep", str(tmp_path / "spec.toml"), "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert needle in err and err.count("\n") == 1, err
    assert not (tmp_path / "out").exists()


def test_explicit_points_crossed_with_axes(tmp_path: Path) -> None:
    from tests.planning.conftest import write_trace

    write_trace(tmp_path / "t.jsonl", n=20)
    spec = {"base": {"input": str(tmp_path / "t.jsonl"), "model": "llama-3.1-8b-instruct", "arrival_rate": 10},
            "points": [{"hardware": "nvidia_H100", "n_engines": 1}, {"hardware": "nvidia_L4", "n_engines": 3}],
            "axes": {"seed": [0, 1]}}
    result = run_sweep(spec, tmp_path / "out", workers=1)
    assert [(r["hardware"], r["n_engines"], r["seed"]) for r in result.rows] == [
        ("nvidia_H100", 1, 0), ("nvidia_H100", 1, 1), ("nvidia_L4", 3, 0), ("nvidia_L4", 3, 1)]
    assert result.rows[2]["cost_per_hour_usd"] is None  # no price for the L4: no cost, not a guess


def test_unknown_gpu_in_a_point_is_refused_before_running(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tests.planning.conftest import write_trace

    write_trace(tmp_path / "t.jsonl", n=5)
    (tmp_path / "spec.toml").write_text('[base]\ninput = "t.jsonl"\n[axes]\nhardware = ["nvidia_H100", "nvidia_H900"]\n')
    assert main(["sweep", str(tmp_path / "spec.toml"), "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "spec.toml: point 1 {'hardware': 'nvidia_H900'}: --hardware: unknown GPU id 'nvidia_H900'" in err, err
    assert not (tmp_path / "out").exists()
