"""Whole replays through the CLI: outputs, accounting, the seed's files, determinism, fast-forward."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pytest

from llmsim.cli import main

from .conftest import EXAMPLES, write_trace


def replay(tmp: Path, *args: str) -> dict:
    out = tmp / "out"
    rc = main(["replay", "--quiet", "-o", str(out), *args])
    assert rc == 0
    return json.loads((out / "stats.json").read_text())


def test_example_limit_10_writes_all_outputs(tmp_path: Path) -> None:
    """The issue's command: exit 0, four outputs, completed + failed == total == 10."""
    stats = replay(tmp_path, "--input", str(EXAMPLES / "trace.jsonl"), "--environment", str(EXAMPLES / "env.json"),
                   "--arrival-rate", "1.0", "--limit", "10")
    r = stats["requests"]
    assert r["completed"] + r["failed"] == r["total"] == 10
    out = tmp_path / "out"
    for name in ("stats.json", "requests.jsonl", "events.jsonl", "trace.json"):
        assert (out / name).stat().st_size > 0
    assert len((out / "requests.jsonl").read_text().splitlines()) == 10
    trace = orjson.loads((out / "trace.json").read_bytes())
    phases = {e["ph"] for e in trace["traceEvents"]}
    assert {"X", "b", "e", "M"} <= phases
    for key in ("ttft_s", "tpot_s", "e2e_s", "queue_s", "itl_s"):
        assert set(stats["latency"][key]) == {"count", "mean", "p50", "p90", "p99", "max"}
    assert stats["invariants"]["ok"]


@pytest.mark.parametrize("extra", [[], ["--environment-change-file", "CHANGES"], ["--n-engines", "2"]])
def test_seed_files_replay_unchanged(tmp_path: Path, seed_dir: Path, extra: list[str]) -> None:
    """The seed's trace, env.json and change file are accepted as they are."""
    args = ["--input", str(seed_dir / "trace.jsonl")]
    if "--n-engines" not in extra:
        args += ["--environment", str(seed_dir / "env.json")]
    args += [str(seed_dir / "env_change.jsonl") if a == "CHANGES" else a for a in extra]
    stats = replay(tmp_path, *args)
    r = stats["requests"]
    assert r["read"] == 10 and r["skipped_invalid"] == 3  # the seed's three zero-length rows
    assert r["completed"] == r["total"] == 7


def test_same_seed_identical_different_seed_differs(tmp_path: Path) -> None:
    """Byte-identical event logs for one seed; Poisson arrivals change with the seed."""
    base = ["--input", str(EXAMPLES / "trace.jsonl"), "--environment", str(EXAMPLES / "env.json"),
            "--arrival-rate", "3", "--limit", "60", "--routing-policy", "random"]
    a = replay(tmp_path / "a", *base, "--seed", "7")
    b = replay(tmp_path / "b", *base, "--seed", "7")
    c = replay(tmp_path / "c", *base, "--seed", "8")
    ev = [(tmp_path / d / "out" / "events.jsonl").read_bytes() for d in ("a", "b", "c")]
    assert ev[0] == ev[1] and ev[0] != ev[2]
    for s in (a, b):
        s.pop("simulation")
        s["run"]["config"].pop("output_dir")  # the one option that differs
    assert a == b
    arrivals = [sorted(json.loads(l)["arrival_s"] for l in (tmp_path / d / "out" / "requests.jsonl").open())
                for d in ("a", "c")]
    assert arrivals[0] != arrivals[1]


def _comparable(stats: dict) -> dict:
    stats = dict(stats)
    stats.pop("simulation")
    stats.pop("run")  # says which options ran (step mode, output folder): they differ on purpose
    return stats


@pytest.mark.parametrize("extra", [
    [],
    ["--gpu-memory-utilization", "0.25", "--max-num-batched-tokens", "512"],  # preemption + chunking
    ["--no-chunked-prefill", "--max-num-seqs", "8", "--routing-policy", "least-loaded"],
])
def test_fast_forward_equals_step_mode_whole_run(tmp_path: Path, extra: list[str]) -> None:
    """requests.jsonl and stats are identical with and without fast-forward, on the real cost model."""
    trace = write_trace(tmp_path / "t.jsonl", 300, rate=40, in_range=(100, 3000), out_range=(50, 600))
    common = ["--input", str(trace), "--n-engines", "2", "--hardware", "nvidia_A100_80G_SXM",
              "--default-model", "llama-3.1-8b-instruct", *extra]
    fast = replay(tmp_path / "f", *common)
    step = replay(tmp_path / "s", *common, "--step-mode")
    assert (tmp_path / "f/out/requests.jsonl").read_bytes() == (tmp_path / "s/out/requests.jsonl").read_bytes()
    assert _comparable(fast) == _comparable(step)
    assert fast["requests"]["completed"] == 300
    if "0.25" in extra:
        assert fast["preemptions"]["total"] > 0
    assert fast["simulation"]["events"] < step["simulation"]["events"]


def test_results_move_with_hardware_and_dtype(tmp_path: Path) -> None:
    """GPU timings come from the cost service: a faster GPU or fp8 lowers latency."""
    trace = write_trace(tmp_path / "t.jsonl", 60, rate=5, model="llama-3.1-8b-instruct")

    def tpot(*extra: str) -> float:
        d = tmp_path / "_".join(extra).replace("-", "")
        stats = replay(d, "--input", str(trace), "--n-engines", "1", *extra)
        return stats["latency"]["tpot_s"]["p50"]

    a100 = tpot("--hardware", "nvidia_A100_80G_SXM")
    h100 = tpot("--hardware", "nvidia_H100_SXM")
    h100_fp8 = tpot("--hardware", "nvidia_H100_SXM", "--dtype", "fp8")
    assert h100 < a100 and h100_fp8 < h100


def test_fp8_kv_cache_doubles_the_kv_blocks_only_when_asked(tmp_path: Path) -> None:
    """--dtype fp8 is vLLM's --quantization fp8: the KV cache stays 16-bit (its --kv-cache-dtype auto);
    --kv-cache-dtype fp8 halves a block's bytes, so about twice the blocks fit, and the summary says so."""
    trace = write_trace(tmp_path / "t.jsonl", 10, rate=5, model="llama-3.1-8b-instruct")

    def replica(*extra: str) -> tuple[int, str]:
        stats = replay(tmp_path / "_".join(extra).replace("-", ""), "--input", str(trace), "--n-engines", "1",
                       "--hardware", "nvidia_L4", *extra)
        gpu = next(g for node in stats["nodes"].values() for g in node["gpus"])
        return gpu["kv_total_blocks"], stats["deployment"]["replicas"][0]["precision"]

    w8, w8_kv8 = replica("--dtype", "fp8"), replica("--dtype", "fp8", "--kv-cache-dtype", "fp8")
    w16_kv8 = replica("--kv-cache-dtype", "fp8")
    assert (w8[1], w8_kv8[1], w16_kv8[1]) == ("fp8", "fp8, fp8 KV", "16-bit, fp8 KV")
    assert w8_kv8[0] == pytest.approx(2 * w8[0], rel=0.01)
    assert w16_kv8[0] < w8_kv8[0]  # 16-bit weights leave less room


def test_gpus_of_a_new_type_make_a_node_the_router_can_provision(tmp_path: Path) -> None:
    """GPUs of a type no node has join as a new node; requests for a second model are served there."""
    env = {"nodes": [{"node_id": 1, "name": "a", "gpu_types": ["nvidia_A100"], "gpu_count_per_type": [1],
                      "deployments": [{"model": "meta-llama/Meta-Llama-3.1-8B-Instruct"}]}]}
    (tmp_path / "env.json").write_text(json.dumps(env))
    (tmp_path / "changes.jsonl").write_text('{"timestamp": 0.5, "gpu_name": "nvidia_H100", "amount": 1}\n')
    lines = ['{"llmsim_trace_version":1}'] + [
        json.dumps({"arrival_s": 1.0 + i / 10, "input_tokens": 100, "output_tokens": 10, "id": f"q{i}",
                    "model": "llama-2-7b-hf"}) for i in range(5)]
    (tmp_path / "trace.jsonl").write_text("\n".join(lines) + "\n")
    stats = replay(tmp_path, "--input", str(tmp_path / "trace.jsonl"), "--environment", str(tmp_path / "env.json"),
                   "--environment-change-file", str(tmp_path / "changes.jsonl"))
    assert stats["requests"]["completed"] == 5 and stats["invariants"]["ok"]
    events = [json.loads(line) for line in open(tmp_path / "out" / "events.jsonl")]
    assert [(e["node"], e["gpu_type"]) for e in events if e["kind"] == "environment_changed"] == [(2, "nvidia_H100")]
    assert {e["replica"] for e in events if e["kind"] == "request_completed"} == {"n2/g0"}


def test_a_removal_larger_than_a_node_continues_on_the_next(tmp_path: Path) -> None:
    """Removing more GPUs of a type than the highest node has takes the rest from the next node (the nodes count)."""
    dep = [{"model": "meta-llama/Meta-Llama-3.1-8B-Instruct"}]
    env = {"nodes": [{"node_id": 1, "name": "a", "gpu_types": ["nvidia_A100"], "gpu_count_per_type": [2],
                      "deployments": dep},
                     {"node_id": 2, "name": "b", "gpu_types": ["nvidia_A100"], "gpu_count_per_type": [1],
                      "deployments": dep}]}
    (tmp_path / "env.json").write_text(json.dumps(env))
    (tmp_path / "changes.jsonl").write_text('{"timestamp": 20, "gpu_name": "nvidia_A100", "amount": -2}\n')
    stats = replay(tmp_path, "--input", str(write_trace(tmp_path / "t.jsonl", 20)), "--environment",
                   str(tmp_path / "env.json"), "--environment-change-file", str(tmp_path / "changes.jsonl"))
    assert stats["invariants"]["ok"] and stats["requests"]["completed"] == 20
    events = [json.loads(line) for line in open(tmp_path / "out" / "events.jsonl")]
    assert [(e["node"], e["amount"]) for e in events if e["kind"] == "environment_changed"] == [(2, -1), (1, -1)]
