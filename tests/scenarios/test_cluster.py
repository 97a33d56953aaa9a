"""Cluster scenarios: re-provisioning between models, environment changes, routing policies."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from llmsim.cost.build import build_cost_model
from llmsim.config.environment import Infrastructure, ModelLoadingConfig
from llmsim.cost import get_hardware, with_interconnect
from llmsim.errors import ConfigError
from llmsim.memory.loading import load_time_s
from llmsim.options import ReplayOptions
from llmsim.output.event_log import read_events
from llmsim.output.events import RequestRouted
from llmsim.policies import ROUTING_POLICIES
from llmsim.replay import run_replay
from protocols.cost import Deployment

from .conftest import EXAMPLES, write_trace

MODEL_A, MODEL_B = "llama-3.1-8b-instruct", "mistral-7b-v0.1"


def write_env(path: Path, nodes: list[dict], preload: bool = False) -> Path:
    path.write_text(json.dumps({"nodes": nodes, "model_loading_config": {"preload_models": preload}}))
    return path


def node(node_id: int, gpu: str, count: int, model: str | None = None) -> dict:
    n: dict = {"node_id": node_id, "name": f"n{node_id}", "gpu_types": [gpu], "gpu_count_per_type": [count]}
    if model:
        n["deployments"] = [{"model": model}]
    return n


def two_model_trace(path: Path) -> Path:
    lines = [{"arrival_s": i * 0.05, "input_tokens": 200, "output_tokens": 50, "model": MODEL_A, "id": f"a{i}"}
             for i in range(20)]
    lines += [{"arrival_s": 1.0 + i * 0.05, "input_tokens": 200, "output_tokens": 50, "model": MODEL_B, "id": f"b{i}"}
              for i in range(20)]
    path.write_text("".join(json.dumps(x) + "\n" for x in lines))
    return path


def run(tmp: Path, **kw) -> dict:
    opts = ReplayOptions(output_dir=str(tmp / "out"), quiet=True, **kw)
    result = run_replay(opts)
    assert result.invariants == []
    return result.stats


def test_two_models_one_node_reprovisions_with_computed_load_time(tmp_path: Path) -> None:
    """A node that holds one model switches to the second model; every request completes."""
    env = write_env(tmp_path / "env.json", [node(1, "nvidia_A100_80G_SXM", 1)])
    stats = run(tmp_path, input=str(two_model_trace(tmp_path / "t.jsonl")), environment=str(env))
    assert stats["requests"]["completed"] == 40
    switches = stats["reprovisioning"]
    assert [(s["from"], s["to"]) for s in switches][:1] == [(MODEL_A, MODEL_B)]
    cost = build_cost_model(Deployment(model=MODEL_B, hardware="nvidia_A100_80G_SXM"), "default")
    expected = load_time_s(cost.weight_bytes_per_gpu, cost.weight_bytes_per_gpu, Infrastructure(), ModelLoadingConfig())
    assert switches[0]["load_s"] == pytest.approx(expected)
    assert stats["requests"]["failed"] == 0


def test_model_too_big_for_every_node_fails_with_reason(tmp_path: Path) -> None:
    """Llama-2-70B on one 24 GB GPU fits nowhere: requests fail with model_does_not_fit."""
    env = write_env(tmp_path / "env.json", [node(1, "nvidia_L4", 1)])
    trace = write_trace(tmp_path / "t.jsonl", 5, model="llama-2-70b-hf")
    stats = run(tmp_path, input=str(trace), environment=str(env))
    assert stats["requests"]["failed_by_reason"] == {"model_does_not_fit": 5}


def test_add_then_remove_gpus_mid_run_completes_everything(tmp_path: Path) -> None:
    """GPUs added at 1 s and removed at 3 s (busy ones re-routed): no request is lost."""
    env = write_env(tmp_path / "env.json", [node(1, "nvidia_A100_80G_SXM", 2, MODEL_A)], preload=True)
    changes = tmp_path / "changes.jsonl"
    changes.write_text('{"timestamp": 1.0, "gpu_name": "nvidia_A100_80G_SXM", "amount": 2}\n'
                       '{"timestamp": 3.0, "gpu_name": "nvidia_A100_80G_SXM", "amount": -3}\n')
    trace = write_trace(tmp_path / "t.jsonl", 400, rate=60, model=MODEL_A)
    stats = run(tmp_path, input=str(trace), environment=str(env), environment_change_file=str(changes))
    assert stats["requests"]["completed"] == 400


def test_removing_a_busy_gpu_reroutes_its_requests(tmp_path: Path) -> None:
    """Requests on a removed GPU are routed again to the remaining replica and complete there."""
    env = write_env(tmp_path / "env.json", [node(1, "nvidia_A100_80G_SXM", 2, MODEL_A)], preload=True)
    changes = tmp_path / "changes.jsonl"
    changes.write_text('{"timestamp": 2.0, "gpu_name": "nvidia_A100_80G_SXM", "amount": -1}\n')
    trace = write_trace(tmp_path / "t.jsonl", 200, rate=50, out_range=(200, 400), model=MODEL_A)
    stats = run(tmp_path, input=str(trace), environment=str(env), environment_change_file=str(changes))
    assert stats["requests"]["completed"] == 200
    routed: dict[str, list[str]] = {}
    for e in read_events(tmp_path / "out" / "events.jsonl"):
        if isinstance(e, RequestRouted):
            routed.setdefault(e.request_id, []).append(e.replica)
    moved = [r for r in routed.values() if len(r) > 1]
    assert moved and all(r[-1] != r[0] for r in moved)


@pytest.mark.parametrize("policy", list(ROUTING_POLICIES))
def test_each_routing_policy_runs_and_is_deterministic(tmp_path: Path, policy: str) -> None:
    """Every policy completes the workload, and the same seed gives the same requests.jsonl."""
    trace = write_trace(tmp_path / "t.jsonl", 150, rate=30, model=MODEL_A)
    outs = []
    for i in range(2):
        stats = run(tmp_path / str(i), input=str(trace), environment=str(EXAMPLES / "env_hetero.json"),
                    routing_policy=policy, seed=3)
        assert stats["requests"]["completed"] == 150
        outs.append((tmp_path / str(i) / "out" / "requests.jsonl").read_bytes())
    assert outs[0] == outs[1]


def test_least_loaded_beats_random_on_p99_ttft_under_heavy_load(tmp_path: Path) -> None:
    """On A100s + H100s under heavy load, least-loaded gives a lower p99 TTFT than random."""
    trace = write_trace(tmp_path / "t.jsonl", 1500, rate=30, in_range=(200, 4000), out_range=(20, 300), model=MODEL_A)
    p99 = {}
    for policy in ("random", "least-loaded"):
        stats = run(tmp_path / policy, input=str(trace), environment=str(EXAMPLES / "env_hetero.json"),
                    routing_policy=policy, write_outputs=False)
        p99[policy] = stats["latency"]["ttft_s"]["p99"]
    assert p99["least-loaded"] < p99["random"]


def test_seed_legacy_gpus_form_replays(tmp_path: Path) -> None:
    """The seed's legacy env form (gpus: name, amount, model, precision) deploys and serves."""
    env = tmp_path / "env.json"
    env.write_text(json.dumps({"gpus": [{"name": "nvidia_A100_80G_SXM", "amount": 2, "model": MODEL_A,
                                         "precision": {"weight_bits": 16, "activation_bits": 16, "kv_bits": 16}}]}))
    trace = write_trace(tmp_path / "t.jsonl", 30, model=MODEL_A)
    stats = run(tmp_path, input=str(trace), environment=str(env))
    assert stats["requests"]["completed"] == 30
    assert [g["replica"] for g in stats["nodes"]["1"]["gpus"]] == ["n1/g0", "n1/g1"]


def _tp2_node(interconnect: str | None) -> dict:
    n = node(1, "nvidia_H100_SXM", 2)
    n["deployments"] = [{"model": MODEL_A, "tp": 2}]
    if interconnect:
        n["interconnect"] = interconnect
    return n


def test_node_interconnect_sets_the_tensor_parallel_link(tmp_path: Path) -> None:
    """The same TP-2 deployment decodes slower when the node links its GPUs by PCIe instead of NVLink."""
    trace = write_trace(tmp_path / "t.jsonl", 40, rate=5.0, model=MODEL_A)
    tpot = {}
    for link in (None, "nvlink", "pcie"):
        env = write_env(tmp_path / f"env-{link}.json", [_tp2_node(link)], preload=True)
        stats = run(tmp_path / str(link), input=str(trace), environment=str(env))
        assert stats["requests"]["completed"] == 40
        tpot[link] = stats["latency"]["tpot_s"]["p50"]
    assert tpot[None] == tpot["nvlink"]  # the H100 SXM's own link is NVLink
    assert tpot["pcie"] > tpot["nvlink"] * 1.02


def test_nvlink_on_a_pcie_only_gpu_is_a_config_error(tmp_path: Path) -> None:
    """A node claiming NVLink for a GPU with no NVLink figures: one error naming the field."""
    n = node(1, "nvidia_A100", 2, MODEL_A)
    n["interconnect"] = "nvlink"
    env = write_env(tmp_path / "env.json", [n])
    trace = write_trace(tmp_path / "t.jsonl", 5, model=MODEL_A)
    with pytest.raises(ConfigError) as err:
        run(tmp_path, input=str(trace), environment=str(env))
    assert err.value.field == "nodes[0].interconnect" and err.value.file == str(env)
    assert "NVLink" in err.value.message


def test_with_interconnect_swaps_in_pcie_figures() -> None:
    """PCIe replaces the link's bandwidth and latency; None and the default link leave the GPU as it is."""
    h100 = get_hardware("nvidia_H100_SXM")
    assert with_interconnect(h100, None) is h100 and with_interconnect(h100, "nvlink") is h100
    pcie = with_interconnect(h100, "pcie")
    assert pcie.interconnect == "pcie"
    assert pcie.interconnect_bandwidth_bytes_per_s == h100.pcie_bandwidth_bytes_per_s < h100.interconnect_bandwidth_bytes_per_s
