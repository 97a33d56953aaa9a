"""The summary says what ran (cluster, replicas, engine, routing, warm or cold start) and where the outputs are."""

from __future__ import annotations

import json
from pathlib import Path

import msgspec
import pytest

from llmsim.cli import main
from llmsim.output.deployment import (
    Deployment, ModelLoads, NodeGpus, nodes_text, footer_line, group_replicas, header_lines, ids_text,
)

EXAMPLES = Path(__file__).resolve().parents[2] / "llmsim" / "examples"


def summary(capsys: pytest.CaptureFixture[str], *args: str) -> list[str]:
    assert main(["replay", "-q", *args]) == 0
    return capsys.readouterr().out.splitlines()


def test_bundled_run_begins_with_what_ran_and_ends_with_the_outputs(tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    lines = summary(capsys, "-o", str(tmp_path))
    head = "\n".join(lines[:6])
    assert lines[0].startswith("ran: llama-3.1-8b-instruct on ") and "trace.jsonl" in lines[0]
    # The example's env.json gives its 40 GB A100s 80 GB each: the summary says which figure it used.
    assert "4 x nvidia_A100 (NVIDIA A100 40GB PCIe; 80 GB per GPU from env.json)" in head
    assert "2 x nvidia_H100 (NVIDIA H100 SXM5 80GB)" in head  # 80 GB there is the card's own: nothing to say
    # vLLM V1's batch limits by GPU: A100s keep the small defaults, 80 GB H100s get the large ones.
    assert "4 x llama-3.1-8b-instruct TP1 16-bit on nvidia_A100 (node 1, batches up to 256 seqs / 2048 tokens)" in head
    assert "2 x llama-3.1-8b-instruct TP1 16-bit on nvidia_H100 (node 2, batches up to 1024 seqs / 8192 tokens)" in head
    stats = json.loads((tmp_path / "stats.json").read_text())
    d = msgspec.convert(stats["deployment"], Deployment)
    assert d.async_scheduling == [True] and not d.offline and d.frontend_overhead_ms > 0
    assert (f"engine: calibration default (vllm-v1-ampere, vllm-v1-hopper); async scheduling (one iteration ahead); "
            f"API server {d.frontend_overhead_ms:.1f} ms per request\nrouting round-robin") in head
    # The example loads weights from disk at the start: a cold start, and its cost is said.
    assert d.start == "cold" and d.model_loads.count == 2 and d.model_loads.longest_s > 1
    assert 0 < d.model_loads.requests_waited < 200
    assert (f"start: cold (env.json model_loading_config.preload_models false); model loads: 2, "
            f"{d.model_loads.longest_s:.1f} s longest; {d.model_loads.requests_waited} requests waited") in head
    assert lines[-1] == f"outputs in {tmp_path}"


def test_disaggregated_replicas_are_listed_by_role(capsys: pytest.CaptureFixture[str]) -> None:
    from llmsim.runconfig import EXAMPLES

    lines = summary(capsys, "--no-outputs", "--environment", str(EXAMPLES / "env_disagg.json"), "--limit", "20")
    replicas = next(line for line in lines if line.startswith("replicas at the end:"))
    assert "2 x llama-3.1-8b-instruct TP1 16-bit prefill on nvidia_H100_SXM (node 1" in replicas
    assert "6 x llama-3.1-8b-instruct TP1 16-bit decode on nvidia_H100_SXM (node 1" in replicas


def test_sync_scheduling_and_offline_are_said(capsys: pytest.CaptureFixture[str]) -> None:
    lines = summary(capsys, "--no-outputs", "--limit", "20", "--no-async-scheduling", "--offline")
    engine = next(line for line in lines if line.startswith("engine:"))
    assert engine.endswith("; synchronous scheduling; offline (requests straight to the engine)")


def test_nccl_only_all_reduce_is_said_and_costs_more(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--disable-custom-all-reduce is said in the engine line and in stats.json, and a TP4 replica's
    decode steps take longer (every all-reduce pays the NCCL ring's latency per step)."""
    args = ["--n-engines", "1", "--hardware", "nvidia_H100", "--tp", "4", "--model", "llama-3.1-70b-instruct",
            "--limit", "20", "--offline"]
    tpot = {}
    for flag in ([], ["--disable-custom-all-reduce"]):
        out = tmp_path / ("nccl" if flag else "custom")
        lines = summary(capsys, *args, *flag, "-o", str(out))
        engine = next(line for line in lines if line.startswith("engine:"))
        stats = json.loads((out / "stats.json").read_text())
        assert stats["deployment"]["custom_all_reduce"] == [not flag]
        assert engine.endswith("; all-reduce through NCCL only") is bool(flag)
        tpot[bool(flag)] = stats["latency"]["tpot_s"]["p50"]
    assert tpot[True] > tpot[False]


def test_pcie_tp4_is_said_to_use_nccl(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Four PCIe GPUs cannot run vLLM's custom all-reduce: the run says NCCL only without being told."""
    out = tmp_path / "pcie"
    lines = summary(capsys, "--n-engines", "1", "--hardware", "nvidia_L40S", "--tp", "4", "--model",
                    "llama-3.1-8b-instruct", "--limit", "20", "--offline", "-o", str(out))
    engine = next(line for line in lines if line.startswith("engine:"))
    assert engine.endswith("; all-reduce through NCCL only")
    assert json.loads((out / "stats.json").read_text())["deployment"]["custom_all_reduce"] == [False]


def test_warm_start_has_no_load_and_no_outputs_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    lines = summary(capsys, "--no-outputs", "--warm-start", "--limit", "20")
    assert "start: warm (--warm-start); no model loads during the run" in lines
    assert lines[-1] == "no outputs written (--no-outputs)"
    assert not any("outputs in" in line for line in lines)


def test_n_engines_start_warm_unless_asked_cold(capsys: pytest.CaptureFixture[str]) -> None:
    model = ("--model", "llama-3.1-8b-instruct")
    warm = summary(capsys, "--no-outputs", "--n-engines", "2", *model, "--limit", "20")
    assert "start: warm (--n-engines default; --cold-start loads the weights first); no model loads during the run" in warm
    unnamed = summary(capsys, "--no-outputs", "--n-engines", "2", "--limit", "20")
    assert any(line.startswith("start: cold (--n-engines without --model") for line in unnamed)
    cold = summary(capsys, "--no-outputs", "--n-engines", "2", *model, "--limit", "20", "--cold-start")
    start = next(line for line in cold if line.startswith("start:"))
    assert start.startswith("start: cold (--cold-start); model loads: 2, ") and "20 requests waited" in start
    ttft_warm = next(line for line in warm if line.startswith("TTFT"))
    ttft_cold = next(line for line in cold if line.startswith("TTFT"))
    assert float(ttft_cold.split()[2]) > 1000 > float(ttft_warm.split()[2])  # ms: the load is in the cold TTFT


def test_identical_nodes_are_said_once() -> None:
    nodes = [NodeGpus(node=i, name=f"engine-{i}", gpus={"g": 1}) for i in range(1, 33)]
    assert nodes_text(nodes, {"g": "Card"}) == "nodes 1-32: 1 x g (Card) each"
    assert ids_text([1, 2, 3, 5, 7, 8]) == "1-3,5,7,8"


def test_renderer_groups_replicas_and_names_everything() -> None:
    groups = group_replicas([("m/a", "g1", 2, 1, "p", "both", 1024, 8192, True, "fp8"),
                             ("m/a", "g1", 2, 2, "p", "both", 1024, 8192, True, "fp8"),
                             ("m/b", "g2", 1, 2, "q", "both", 256, 4096, False, "16-bit, fp8 KV")])
    assert [(g.model, g.replicas, g.nodes) for g in groups] == [("m/a", 2, [1, 2]), ("m/b", 1, [2])]
    d = Deployment(input="t.jsonl", environment="env.json", environment_changes=3, models=["m/a", "m/b"],
                   nodes=[NodeGpus(node=1, name="x", gpus={"g1": 4})], gpu_names={"g1": "Card One"},
                   replicas=groups, calibration="default", async_scheduling=[True, False], frontend_overhead_ms=7.25,
                   offline=False, routing="least-loaded", reprovisioning="random", start="cold", start_from="--cold-start",
                   model_loads=ModelLoads(count=1, longest_s=2.25, total_s=2.25, requests_waited=1))
    lines = header_lines(d)
    assert lines[0] == "ran: a, b on env.json, 3 environment change(s); input t.jsonl"
    assert lines[1] == "cluster: node 1 (x): 4 x g1 (Card One)"
    assert lines[2] == ("replicas at the end: 2 x a TP2 fp8 on g1 (nodes 1,2, batches up to 1024 seqs / 8192 tokens); "
                        "1 x b TP1 16-bit, fp8 KV on g2 (node 2, batches up to 256 seqs / 4096 tokens, prompts unchunked)")
    assert lines[3] == "engine: calibration default (p, q); async scheduling on some deployments; API server 7.2 ms per request"
    assert lines[4] == "routing least-loaded; re-provisioning random"
    assert lines[5] == "start: cold (--cold-start); model loads: 1, 2.2 s longest; 1 request waited for one"
    assert footer_line(None) == "no outputs written (--no-outputs)"
    assert footer_line("o", interrupted=True) == "partial outputs in o"
