"""The workload commands: stats against an independent numpy computation, generate, convert."""

from __future__ import annotations

import csv
import json
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytest

from llmsim import cli
from llmsim.workload import open_trace


@pytest.fixture(autouse=True)
def _only_workload_commands(monkeypatch: pytest.MonkeyPatch) -> None:
    """Run the CLI with just these commands, so the tests do not depend on the others."""
    monkeypatch.setattr(cli, "COMMAND_MODULES", ("llmsim.commands.workload",))


def _stats_json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict:
    assert cli.main(["workload", "stats", *argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def _independent(times_s: np.ndarray, inputs: np.ndarray, outputs: np.ndarray) -> dict:
    """Expected figures computed here, from the raw columns, without llmsim."""
    offsets = times_s - times_s[0]
    span = offsets[-1]
    return {
        "requests": len(inputs),
        "span_s": span,
        "mean_rate_per_s": len(inputs) / span,
        "peak_rate_per_s": int(np.unique(np.floor(offsets).astype(int), return_counts=True)[1].max()),
        "peak_rate_per_min": int(np.unique(np.floor(offsets / 60).astype(int), return_counts=True)[1].max()),
        "input_p": np.percentile(inputs, [50, 90, 95, 99]),
        "output_p": np.percentile(outputs, [50, 90, 95, 99]),
        "input_mean": inputs.mean(),
    }


def _check(stats: dict, expected: dict) -> None:
    assert stats["requests"] == expected["requests"]
    assert stats["span_s"] == pytest.approx(expected["span_s"], abs=1e-6)
    assert stats["mean_rate_per_s"] == pytest.approx(expected["mean_rate_per_s"], rel=1e-9)
    assert stats["mean_rate_per_min"] == pytest.approx(expected["mean_rate_per_s"] * 60, rel=1e-9)
    assert stats["peak_rate_per_s"] == expected["peak_rate_per_s"]
    assert stats["peak_rate_per_min"] == expected["peak_rate_per_min"]
    got_in = [stats["input_tokens"][k] for k in ("p50", "p90", "p95", "p99")]
    got_out = [stats["output_tokens"][k] for k in ("p50", "p90", "p95", "p99")]
    assert got_in == pytest.approx(expected["input_p"].tolist())
    assert got_out == pytest.approx(expected["output_p"].tolist())
    assert stats["input_tokens"]["mean"] == pytest.approx(expected["input_mean"])


def test_stats_azure_code_trace_matches_numpy(shared_traces: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Azure code trace: count, span, rates and percentiles equal a direct computation."""
    path = shared_traces / "AzureLLMInferenceTrace_code.csv"
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    times = np.array([
        datetime.strptime(r["TIMESTAMP"][:26], "%Y-%m-%d %H:%M:%S.%f").replace(tzinfo=timezone.utc).timestamp()
        + int(r["TIMESTAMP"][26:] or 0) * 1e-7
        for r in rows
    ])
    inputs = np.array([int(r["ContextTokens"]) for r in rows])
    outputs = np.array([int(r["GeneratedTokens"]) for r in rows])
    stats = _stats_json(capsys, str(path))
    _check(stats, _independent(times, inputs, outputs))
    assert stats["requests"] == 8819


def test_stats_mooncake_trace_matches_numpy(shared_traces: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Mooncake synthetic trace: the same figures from the JSON lines."""
    path = shared_traces / "mooncake_synthetic_trace.jsonl"
    objs = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    times = np.array([o["timestamp"] / 1000 for o in objs])
    inputs = np.array([o["input_length"] for o in objs])
    outputs = np.array([o["output_length"] for o in objs])
    stats = _stats_json(capsys, str(path))
    _check(stats, _independent(times, inputs, outputs))
    assert stats["requests"] == 3993


def test_stats_time_scale_halves_span(fixtures: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--time-scale 2 halves the span and doubles the mean rate."""
    path = str(fixtures / "azure_code_head.csv")
    normal = _stats_json(capsys, path)
    fast = _stats_json(capsys, path, "--time-scale", "2")
    assert fast["span_s"] == pytest.approx(normal["span_s"] / 2, abs=1e-9)
    assert fast["mean_rate_per_s"] == pytest.approx(normal["mean_rate_per_s"] * 2)


def test_stats_text_and_untimed(fixtures: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The text report names the format; an untimed trace says it has no arrival times."""
    assert cli.main(["workload", "stats", str(fixtures / "seed_trace.jsonl")]) == 0
    out = capsys.readouterr().out
    assert "(seed)" in out and "untimed" in out and "requests         10" in out


def test_plot_without_matplotlib_is_one_line(
    fixtures: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """--plot without matplotlib: exit 2 and one clear line, no traceback."""
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "matplotlib" else real(name, *a))
    code = cli.main(["workload", "stats", str(fixtures / "azure_code_head.csv"), "--plot", str(tmp_path / "p.png")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "matplotlib" in err


def test_bad_trace_is_one_line_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A bad line gives one line naming file, line and field, and exit status 2."""
    path = tmp_path / "bad.jsonl"
    path.write_text('{"input_length": 5, "output_length": "x", "timestamp": 0}\n')
    assert cli.main(["workload", "stats", str(path)]) == 2
    assert capsys.readouterr().err.strip() == f"llmsim: error: {path}:1: output_length: got 'x' (expected an integer)"


def test_generate_is_seeded_and_reproducible(tmp_path: Path) -> None:
    """Same seed, same file; another seed, another file; the result reads back as canonical."""
    argv = ["generate", "--count", "500", "--input-tokens", "lognormal:800:600",
            "--output-tokens", "uniform:10:300", "--arrival-rate", "4", "--burstiness", "2", "--model", "m"]
    a, b, c = tmp_path / "a.jsonl", tmp_path / "b.jsonl", tmp_path / "c.jsonl"
    assert cli.main([*argv, "--seed", "7", "-o", str(a)]) == 0
    assert cli.main([*argv, "--seed", "7", "-o", str(b)]) == 0
    assert cli.main([*argv, "--seed", "8", "-o", str(c)]) == 0
    assert a.read_bytes() == b.read_bytes() != c.read_bytes()
    requests = list(open_trace(str(a)))
    assert len(requests) == 500 and {r.model for r in requests} == {"m"}
    outputs = np.array([r.output_tokens for r in requests])
    assert outputs.min() >= 10 and outputs.max() <= 300
    times = np.array([r.arrival_s for r in requests])
    assert times[0] == 0 and np.all(np.diff(times) >= 0)
    assert (len(times) - 1) / times[-1] == pytest.approx(4.0, rel=0.25)


def test_generate_distributions(tmp_path: Path) -> None:
    """fixed, normal and lognormal lengths land where asked; --untimed writes no arrivals."""
    out = tmp_path / "g.jsonl"
    cli.main(["generate", "--count", "4000", "--untimed", "--input-tokens", "fixed:128",
              "--output-tokens", "lognormal:200:100", "-o", str(out)])
    requests = list(open_trace(str(out)))
    assert {r.input_tokens for r in requests} == {128}
    assert all(r.arrival_s is None for r in requests)
    outputs = np.array([r.output_tokens for r in requests])
    assert outputs.mean() == pytest.approx(200, rel=0.05) and outputs.std() == pytest.approx(100, rel=0.1)
    cli.main(["generate", "--count", "4000", "--input-tokens", "normal:1000:50", "--output-tokens", "fixed:1",
              "--duration", "1e9", "-o", str(out)])
    inputs = np.array([r.input_tokens for r in open_trace(str(out))])
    assert inputs.mean() == pytest.approx(1000, rel=0.01) and inputs.std() == pytest.approx(50, rel=0.1)


def test_generate_resamples_a_trace(fixtures: Path, tmp_path: Path) -> None:
    """--lengths-from draws (input, output) pairs that exist in the source trace."""
    source = fixtures / "azure_code_head.csv"
    pairs = {(r.input_tokens, r.output_tokens) for r in open_trace(str(source))}
    out = tmp_path / "r.jsonl"
    assert cli.main(["generate", "--duration", "50", "--arrival-rate", "2", "--lengths-from", str(source), "-o", str(out)]) == 0
    requests = list(open_trace(str(out)))
    assert requests and {(r.input_tokens, r.output_tokens) for r in requests} <= pairs
    assert max(r.arrival_s for r in requests) < 50
    assert cli.main(["generate", "--count", "50", "--input-tokens", f"trace:{source}", "--output-tokens", "fixed:5", "-o", str(out)]) == 0
    assert {r.input_tokens for r in open_trace(str(out))} <= {p[0] for p in pairs}


@pytest.mark.parametrize("spec", ["foo:1", "normal:1", "uniform:5:1", "fixed:x", "trace:"])
def test_generate_bad_spec(spec: str, capsys: pytest.CaptureFixture[str]) -> None:
    """A bad length spec is a one-line usage error listing the accepted forms."""
    assert cli.main(["generate", "--count", "3", "--input-tokens", spec]) == 2
    assert "lognormal" in capsys.readouterr().err or spec == "uniform:5:1"


@pytest.mark.parametrize("name", ["azure_code_head.csv", "mooncake_synthetic_head.jsonl",
                                  "vidur_azure_conv_qps2_head.csv", "seed_trace.jsonl", "burstgpt_sample.csv"])
def test_convert_round_trip(fixtures: Path, tmp_path: Path, name: str) -> None:
    """convert keeps counts, lengths, ids and (rebased) arrival times of every reader."""
    source = list(open_trace(str(fixtures / name)))
    out = tmp_path / "c.jsonl"
    assert cli.main(["convert", str(fixtures / name), "-o", str(out)]) == 0
    back = list(open_trace(str(out)))
    assert [(r.id, r.input_tokens, r.output_tokens, r.prefix_hashes, r.model) for r in back] == [
        (r.id, r.input_tokens, r.output_tokens, r.prefix_hashes, r.model) for r in source]
    if source[0].arrival_s is None:
        assert all(r.arrival_s is None for r in back)
    else:
        expected = [r.arrival_s - source[0].arrival_s for r in source]
        assert [r.arrival_s for r in back] == pytest.approx(expected, abs=1e-9)


def test_convert_window_scale_limit(fixtures: Path, tmp_path: Path) -> None:
    """convert applies --start/--duration, --time-scale, --limit and --model."""
    out = tmp_path / "w.jsonl"
    path = str(fixtures / "mooncake_synthetic_head.jsonl")
    source = list(open_trace(path))
    base = [r.arrival_s - source[0].arrival_s for r in source]
    assert cli.main(["convert", path, "--start", "0.5", "--duration", "1", "--time-scale", "2",
                     "--limit", "3", "--model", "x", "-o", str(out)]) == 0
    back = list(open_trace(str(out)))
    expected = [(t - 0.5) / 2 for t in base if 0.5 <= t < 1.5][:3]
    assert len(expected) == 3
    assert [r.arrival_s for r in back] == pytest.approx(expected)
    assert {r.model for r in back} == {"x"}
