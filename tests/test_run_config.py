"""One run configuration: a TOML file and the same flags give identical runs; stats.json's run section."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from llmsim.api import simulate
from llmsim.cli import main
from llmsim.errors import ConfigError

LINES = [f'{{"input_tokens": {50 + 7 * i}, "output_tokens": {5 + i % 9}}}\n' for i in range(30)]
FLAGS = ["--n-engines", "2", "--hardware", "nvidia_H100", "--model", "llama-3.1-8b-instruct",
         "--arrival-rate", "20", "--seed", "3", "--routing-policy", "least-loaded", "--slo", "ttft=0.05,tpot=0.01",
         "--max-num-seqs", "8", "--quiet"]
TOML = """
n_engines = 2
hardware = "nvidia_H100"
model = "llama-3.1-8b-instruct"
arrival-rate = 20
seed = 3
routing_policy = "least-loaded"
slo_ttft_s = 0.05
slo_tpot_s = 0.01
max_num_seqs = 8
quiet = true
"""


@pytest.fixture
def trace(tmp_path: Path) -> Path:
    path = tmp_path / "t.jsonl"
    path.write_text("".join(LINES))
    return path


def stats_of(out: Path) -> dict:  # type: ignore[type-arg]
    stats = json.loads((out / "stats.json").read_text())
    stats["simulation"].pop("wall_s")
    return stats


def run_cli(args: list[str], out: Path) -> dict:  # type: ignore[type-arg]
    assert main(["replay", *args, "--output-dir", str(out)]) == 0
    return stats_of(out)


def test_config_file_and_flags_give_identical_runs(tmp_path: Path, trace: Path) -> None:
    (tmp_path / "run.toml").write_text(f'input = "{trace.name}"\n' + TOML)
    by_flags = run_cli(["--input", str(trace), *FLAGS], tmp_path / "a")
    by_file = run_cli(["--config", str(tmp_path / "run.toml")], tmp_path / "b")
    for s in (by_flags, by_file):
        s["run"]["config"].pop("output_dir")
    assert by_file == by_flags
    assert (tmp_path / "a" / "requests.jsonl").read_bytes() == (tmp_path / "b" / "requests.jsonl").read_bytes()
    assert by_file["run"]["config"]["routing_policy"] == "least-loaded"  # the file's value, not the default


def test_flags_override_the_file(tmp_path: Path, trace: Path) -> None:
    (tmp_path / "run.toml").write_text(f'input = "{trace.name}"\n' + TOML)
    stats = run_cli(["--config", str(tmp_path / "run.toml"), "--seed", "0", "--routing-policy", "round-robin"],
                    tmp_path / "c")
    config = stats["run"]["config"]
    assert (config["seed"], config["routing_policy"], config["n_engines"]) == (0, "round-robin", 2)
    assert stats["run"]["seed"] == 0


@pytest.mark.parametrize(("text", "needle"), [
    ("n_engine = 2\n", "run.toml: n_engine: unknown key 'n_engine'"),
    ("tp = 3\n", "run.toml: tp: 3 is not 1, 2, 4, 8 or 16"),
    ('arrival_rate = "fast"\n', "run.toml: arrival_rate: Expected `float | null`, got `str`"),
    ('routing_policy = 4\n', "run.toml: routing_policy: Expected `str`, got `int`"),
    ('trace_format = "xml"\n', "run.toml: trace_format: 'xml' is not a valid choice"),
    ("n_engines = [\n", "run.toml: not valid TOML"),
])
def test_bad_config_is_one_line_exit_2(tmp_path: Path, trace: Path, capsys: pytest.CaptureFixture[str],
                                       text: str, needle: str) -> None:
    (tmp_path / "run.toml").write_text(text)
    assert main(["replay", "--config", str(tmp_path / "run.toml"), "--input", str(trace), "-q"]) == 2
    err = capsys.readouterr().err
    assert needle in err and err.count("\n") == 1, err
    assert not (tmp_path / "out").exists()


def test_run_section_is_complete(tmp_path: Path, trace: Path) -> None:
    stats = run_cli(["--input", str(trace), *FLAGS], tmp_path / "a")
    run = stats["run"]
    assert set(run) >= {"config", "trace", "cluster", "llmsim", "seed"}
    assert run["trace"] == {"path": str(trace), "size_bytes": trace.stat().st_size,
                            "sha256": hashlib.sha256(trace.read_bytes()).hexdigest(), "format": "llmsim",
                            "requests": len(LINES)}
    assert run["cluster"] == {"gpus": {"nvidia_H100": 2}, "total_gpus": 2}
    assert run["llmsim"]["version"] and run["llmsim"]["build"]
    assert run["seed"] == 3 and run["config"]["arrival_rate"] == 20.0
    assert run["config"]["slo_tpot_s"] == 0.01 and run["config"]["max_num_seqs"] == 8


def test_run_config_reproduces_the_run(tmp_path: Path, trace: Path) -> None:
    """run.config fed back through the API gives the same statistics."""
    first = run_cli(["--input", str(trace), *FLAGS], tmp_path / "a")
    config = {k: v for k, v in first["run"]["config"].items() if v is not None}
    again = simulate(config)
    assert not (tmp_path / "a2").exists()
    again["simulation"].pop("wall_s")
    again["run"]["config"].pop("output_dir"), again["run"]["config"].pop("write_outputs"), first["run"]["config"].pop("write_outputs")
    first["run"]["config"].pop("output_dir")
    assert again == first


def test_api_keywords_override_and_bad_keys_raise(trace: Path) -> None:
    stats = simulate({"input": str(trace), "n_engines": 1, "default_model": "llama-3.1-8b-instruct"}, arrival_rate=40.0, seed=1)
    assert stats["run"]["config"]["arrival_rate"] == 40.0 and stats["requests"]["completed"] == len(LINES)
    with pytest.raises(ConfigError, match="unknown key"):
        simulate({"input": str(trace)}, replicas=2)


@pytest.mark.parametrize(("text", "fmt", "requests"), [
    ('{"llmsim_trace_version": 1}\n' + "".join(LINES[:4]) + "\n", "llmsim", 4),
    ("TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:15:46.6805900,374,44\n", "azure", 1),
])
def test_trace_request_count_skips_headers(tmp_path: Path, text: str, fmt: str, requests: int) -> None:
    from llmsim.output.run_section import trace_identity

    path = tmp_path / "t.trace"
    path.write_text(text)
    ident = trace_identity(str(path), "auto")
    assert (ident["format"], ident["requests"]) == (fmt, requests)


def test_engine_sets_calibration_and_scheduler_defaults_that_given_options_override() -> None:
    """--engine vllm-v0: the V0 family, synchronous scheduling, no prefix cache; explicit options win."""
    from llmsim.runconfig import resolve_options

    v0 = resolve_options({}, {"engine": "vllm-v0", "n_engines": 1})
    assert (v0.calibration, v0.async_scheduling, v0.enable_prefix_caching) == ("vllm-v0", False, False)
    mixed = resolve_options({"engine": "vllm-v0", "calibration": "vllm-2023"}, {"async_scheduling": True, "n_engines": 1})
    assert (mixed.calibration, mixed.async_scheduling, mixed.enable_prefix_caching) == ("vllm-2023", True, False)
    plain = resolve_options({}, {"n_engines": 1})
    assert (plain.calibration, plain.async_scheduling) == ("default", None)


def test_engine_is_checked_in_config_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "run.toml"
    cfg.write_text('engine = "sglang"\n')
    assert main(["replay", "--config", str(cfg), "--no-outputs"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "engine" in err[0] and "run.toml" in err[0]
