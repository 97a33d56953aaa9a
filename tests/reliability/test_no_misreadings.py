"""No quiet misreadings (issue 16): every option honoured or refused, per-request SLOs, no fake zeros."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import pytest

from llmsim.cli import main
from llmsim.errors import EXIT_BAD_INPUT

MODEL = "llama-3.1-8b-instruct"
A100 = {"node_id": 1, "gpu_types": ["nvidia_A100"], "gpu_count_per_type": [2]}


def run(tmp: Path, lines: list[dict[str, Any]], *args: str) -> dict[str, Any]:
    """Replay `lines` (canonical JSONL) and return stats.json; the run must succeed."""
    trace = tmp / "t.jsonl"
    trace.write_text("".join(json.dumps(x) + "\n" for x in lines))
    assert main(["replay", "-q", "-i", str(trace), "-o", str(tmp / "out"), *args]) == 0
    return dict(orjson.loads((tmp / "out" / "stats.json").read_bytes()))


def test_one_deployed_model_serves_a_model_less_trace(tmp_path: Path) -> None:
    """env.json naming one model is a stated model: model-less requests use it, no flag needed."""
    env = tmp_path / "env.json"
    env.write_text(json.dumps({"nodes": [{**A100, "deployments": [{"model": "qwen2.5-7b-instruct"}]}]}))
    stats = run(tmp_path, [{"input_tokens": 100, "output_tokens": 10}] * 4, "-e", str(env))
    assert stats["requests"]["completed"] == 4
    assert {g["model"] for g in stats["nodes"]["1"]["gpus"]} == {"qwen2.5-7b-instruct"}


def test_legacy_tp_is_honoured(tmp_path: Path) -> None:
    """--n-engines 1 --tp 2 runs a TP-2 replica (it used to run TP 1)."""
    stats = run(tmp_path, [{"input_tokens": 100, "output_tokens": 10}] * 3, "--n-engines", "1", "--tp", "2",
                "--default-model", MODEL)
    assert [g["tp"] for g in stats["nodes"]["1"]["gpus"]] == [2]


def test_a_model_path_in_a_trace_is_not_opened(tmp_path: Path) -> None:
    """A trace naming a real config folder by path fails that request as unknown_model (a trace names models)."""
    folder = tmp_path / "my-model"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"model_type": "llama", "hidden_size": 1024,
                                                    "num_attention_heads": 16, "num_hidden_layers": 4,
                                                    "vocab_size": 32000, "intermediate_size": 2816}))
    lines = [{"input_tokens": 100, "output_tokens": 10, "model": str(folder)}, {"input_tokens": 100,
                                                                                "output_tokens": 10, "model": MODEL}]
    stats = run(tmp_path, lines, "--n-engines", "1")
    assert stats["requests"]["failed_by_reason"] == {"unknown_model": 1}
    # The same path given by the user is a model: --default-model, or the trace line naming the path passed.
    stats = run(tmp_path, lines, "--n-engines", "1", "--default-model", str(folder))
    assert stats["requests"]["completed"] == 2


def test_per_request_slo_applies(tmp_path: Path) -> None:
    """A request's own slo replaces --slo for it: an impossible target is missed, a loose one met."""
    base = {"input_tokens": 200, "output_tokens": 20, "model": MODEL}
    lines = [{**base, "slo": {"ttft_s": 1e-9}}, {**base, "slo": {"ttft_s": 100.0}}, base]
    loose = run(tmp_path, lines, "--n-engines", "1", "--slo", "ttft=100")
    assert loose["slo"]["met"] == 2 and loose["slo"]["requests_with_own_targets"] == 2
    tight = run(tmp_path, lines, "--n-engines", "1", "--slo", "ttft=0.000000001")
    assert tight["slo"]["met"] == 1  # only the request with its own loose target


def test_no_completed_requests_reports_null_not_zero(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Every request failing gives latency count 0 and null figures, and the summary says so."""
    env = tmp_path / "env.json"
    env.write_text(json.dumps({"nodes": [{"node_id": 1, "gpu_types": ["nvidia_A100"], "gpu_count_per_type": [1]}]}))
    stats = run(tmp_path, [{"input_tokens": 100, "output_tokens": 10, "model": "llama-2-70b-hf"}] * 3, "-e", str(env))
    assert stats["requests"]["completed"] == 0
    for key in ("ttft_s", "tpot_s", "e2e_s", "queue_s", "itl_s"):
        assert stats["latency"][key] == {"count": 0, "mean": None, "p50": None, "p90": None, "p99": None, "max": None}
    assert "no completed requests" in capsys.readouterr().out


def test_one_token_outputs_have_no_tpot(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    stats = run(tmp_path, [{"input_tokens": 100, "output_tokens": 1, "model": MODEL}] * 3, "--n-engines", "1")
    assert stats["latency"]["tpot_s"]["count"] == 0 and stats["latency"]["tpot_s"]["p50"] is None
    assert stats["latency"]["ttft_s"]["count"] == 3 and stats["latency"]["ttft_s"]["p50"] > 0
    assert "TPOT  none" in capsys.readouterr().out


def test_progress_is_not_simulation_events(tmp_path: Path) -> None:
    """A tiny --print-interval on a trace spanning years schedules nothing: the event count is unchanged."""
    lines = [{"input_tokens": 50, "output_tokens": 5, "model": MODEL, "arrival_s": t} for t in (0, 3e7, 6e7)]
    quiet = run(tmp_path, lines, "--n-engines", "1")["simulation"]["events"]
    ticking = run(tmp_path, lines, "--n-engines", "1", "--print-interval", "0.000001")["simulation"]["events"]
    assert quiet == ticking


def test_long_line_without_newline_is_refused_in_bounded_memory(tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """A 17 MiB input with no newline: one error line, not a MemoryError or a csv traceback."""
    from llmsim.inputs import MAX_LINE_BYTES

    big = tmp_path / "big.jsonl"
    big.write_bytes(b'{"input_tokens": 1, "x": "' + b"a" * (MAX_LINE_BYTES + 10))
    for command in (["replay", "-q", "-i", str(big), "--n-engines", "1", "--default-model", MODEL,
                     "-o", str(tmp_path / "o")], ["workload", "stats", str(big)], ["convert", str(big)]):
        assert main(command) == EXIT_BAD_INPUT
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "line longer than" in err[0] and "big.jsonl:1" in err[0], err


def test_a_deployment_too_big_for_its_tp_is_refused_saying_what_fits(tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    """70B at tp 1 on A100-40GB used to run with every request failed; now it is refused naming tp 4."""
    env = tmp_path / "env.json"
    env.write_text(json.dumps({"nodes": [{"node_id": 1, "gpu_types": ["nvidia_A100"], "gpu_count_per_type": [8],
                                          "deployments": [{"model": "llama-2-70b-hf", "tp": 1}]}]}))
    (tmp_path / "t.jsonl").write_text('{"input_tokens": 10, "output_tokens": 5}\n')
    assert main(["replay", "-q", "-i", str(tmp_path / "t.jsonl"), "-e", str(env), "-o", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "nodes[0].deployments[0]" in err and "does not fit at tp 1" in err and "expected tp 4" in err, err
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("removed_at", [1.0, 12.0])  # while the model loads, and once it serves
def test_capacity_that_comes_back_serves_the_waiting_requests(tmp_path: Path, removed_at: float) -> None:
    """The node's only GPU is removed, then added back: requests waiting meanwhile are served, not no_capacity."""
    env = tmp_path / "env.json"
    env.write_text(json.dumps({"nodes": [{"node_id": 1, "gpu_types": ["nvidia_A100"], "gpu_count_per_type": [1]}]}))
    changes = tmp_path / "changes.jsonl"
    changes.write_text(f'{{"timestamp": {removed_at}, "gpu_name": "nvidia_A100", "amount": -1}}\n'
                       f'{{"timestamp": {removed_at + 5}, "gpu_name": "nvidia_A100", "amount": 1}}\n')
    lines = [{"input_tokens": 100, "output_tokens": 10, "model": MODEL, "arrival_s": t}
             for t in (0.0, removed_at + 1, removed_at + 2, removed_at + 8)]
    stats = run(tmp_path, lines, "-e", str(env), "--environment-change-file", str(changes))
    assert stats["requests"]["completed"] == 4, stats["requests"]
