"""Prefill/decode disaggregation, whole runs: the timeline of one request, shared links, KV waits, removals, step mode."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from llmsim.cli import main
from llmsim.cost import get_hardware, with_interconnect
from llmsim.cost.build import build_cost_model
from llmsim.inspect.timeline import timeline_of
from llmsim.network.links import solo_ns
from llmsim.options import ReplayOptions
from llmsim.output.event_log import read_events
from llmsim.output.events import FirstToken, ReplicaRemoved, RequestCompleted, TransferFinished, TransferStarted
from llmsim.replay import run_replay
from protocols.cost import Deployment

from .conftest import write_trace

MODEL, GPU = "llama-3.1-8b-instruct", "nvidia_H100_SXM"
LATENCY_NS = 20_000  # env.json's disaggregation.transfer_latency_us default


def dep(role: str, replicas: int = 1, **serving: object) -> dict:
    d: dict = {"model": MODEL, "replicas": replicas, "role": role}
    if serving:
        d["serving"] = serving
    return d


def node(node_id: int, gpus: int, deps: list[dict], network_gbps: float = 100.0) -> dict:
    return {"node_id": node_id, "gpu_types": [GPU], "gpu_count_per_type": [gpus], "interconnect": "nvlink",
            "network_bandwidth_gbps": network_gbps, "deployments": deps}


def write_env(path: Path, nodes: list[dict], **defaults: object) -> Path:
    path.write_text(json.dumps({"nodes": nodes, "model_loading_config": {"preload_models": True},
                                "defaults": defaults}))
    return path


def one_node_pd(tmp: Path) -> Path:
    return write_env(tmp / "pd.json", [node(1, 2, [dep("prefill"), dep("decode")])])


def requests(path: Path, lines: list[tuple[float, int, int]]) -> Path:
    path.write_text("".join(json.dumps({"arrival_s": t, "input_tokens": i, "output_tokens": o, "id": f"q{k}",
                                        "model": MODEL}) + "\n" for k, (t, i, o) in enumerate(lines)))
    return path


def run(tmp: Path, **kw: object) -> tuple[dict, list]:
    out = tmp / "out"
    result = run_replay(ReplayOptions(output_dir=str(out), quiet=True, **kw))  # type: ignore[arg-type]
    assert result.invariants == []
    return result.stats, list(read_events(out / "events.jsonl"))


def of(events: list, kind: type) -> list:
    return [e for e in events if isinstance(e, kind)]


def kv_bytes_per_token() -> int:
    return build_cost_model(Deployment(model=MODEL, hardware=GPU), "default").kv_bytes_per_token_per_gpu


def test_lone_request_takes_prefill_plus_transfer_plus_decode(tmp_path: Path) -> None:
    """Same first token as co-located; the end moves by exactly the transfer (bytes / NVLink + latency)."""
    trace = requests(tmp_path / "t.jsonl", [(0.0, 1000, 50)])
    colo_env = write_env(tmp_path / "c.json", [node(1, 1, [dep("both")])])
    _, colo = run(tmp_path / "c", input=str(trace), environment=str(colo_env))
    stats, dis = run(tmp_path / "d", input=str(trace), environment=str(one_node_pd(tmp_path)))
    (c,), (d,), (start,), (done,) = of(colo, RequestCompleted), of(dis, RequestCompleted), \
        of(dis, TransferStarted), of(dis, TransferFinished)
    nvlink = with_interconnect(get_hardware(GPU), "nvlink").interconnect_bandwidth_bytes_per_s
    assert start.kv_bytes == 1000 * kv_bytes_per_token()
    assert done.transfer_ns == LATENCY_NS + solo_ns(start.kv_bytes, nvlink)
    assert start.t_ns == d.first_token_ns == c.first_token_ns  # the decode replica had room: no wait
    assert d.t_ns == c.t_ns + done.transfer_ns
    assert d.replica != start.src_replica and stats["disaggregation"]["ratio"] == "1:1"
    assert stats["disaggregation"]["transfers"]["transfer_s"]["p50"] == pytest.approx(done.transfer_ns / 1e9)
    tl = timeline_of(d.request_id, [e for e in dis if getattr(e, "request_id", None) == d.request_id])
    assert tl.totals_ns()["transfer"] == done.transfer_ns and sum(tl.totals_ns().values()) == d.t_ns - d.arrival_ns


def test_transfers_on_one_link_share_its_bandwidth(tmp_path: Path) -> None:
    """Two prompts done at once on two prefill replicas of node 1 go to node 2 over one network path: each
    takes as long as both would alone, back to back."""
    env = write_env(tmp_path / "e.json", [node(1, 2, [dep("prefill", 2)]), node(2, 2, [dep("decode", 2)])])
    trace = requests(tmp_path / "t.jsonl", [(0.0, 1000, 20), (0.0, 1000, 20)])
    _, events = run(tmp_path, input=str(trace), environment=str(env))
    starts, ends = of(events, TransferStarted), of(events, TransferFinished)
    assert len({s.src_replica for s in starts}) == 2 and {s.link for s in starts} == {"net:n1->n2"}
    assert starts[0].t_ns == starts[1].t_ns
    both = solo_ns(2 * starts[0].kv_bytes, 100e9 / 8)
    assert [e.transfer_ns for e in ends] == pytest.approx([LATENCY_NS + both] * 2, abs=2)


def test_decode_pool_without_kv_space_makes_transfers_wait_not_fail(tmp_path: Path) -> None:
    """A decode replica with a small KV pool takes hand-offs as blocks come free; every request completes."""
    env = write_env(tmp_path / "e.json", [node(1, 2, [dep("prefill"), dep("decode", gpu_memory_utilization=0.25)])])
    trace = requests(tmp_path / "t.jsonl", [(0.001 * k, 3000, 300) for k in range(40)])
    stats, events = run(tmp_path, input=str(trace), environment=str(env))
    first = {e.request_id: e.t_ns for e in of(events, FirstToken)}
    waits = [s.t_ns - first[s.request_id] for s in of(events, TransferStarted)]
    assert max(waits) > 0.1e9  # waited for blocks, well past its first token
    assert stats["requests"]["completed"] == 40 and stats["requests"]["failed"] == 0
    assert stats["nodes"]["1"]["gpus"][1]["kv_peak_use"] <= 1.0


def test_removing_replicas_mid_transfer_loses_no_request(tmp_path: Path) -> None:
    """A decode GPU and then a prefill GPU leave while slow transfers are in flight: the KV is sent again to the
    other decode replica, the prefill replica's waiting prompts run elsewhere; everything completes."""
    env = write_env(tmp_path / "e.json", [node(1, 2, [dep("prefill", 2)]), node(2, 2, [dep("decode", 2)], 1.0)])
    changes = tmp_path / "c.jsonl"
    changes.write_text(f'{{"timestamp": 0.6, "gpu_name": "{GPU}", "amount": -1, "node": 2}}\n'
                       f'{{"timestamp": 1.5, "gpu_name": "{GPU}", "amount": -1, "node": 1}}\n')
    trace = requests(tmp_path / "t.jsonl", [(0.05 * k, 1000, 30) for k in range(30)])
    stats, events = run(tmp_path, input=str(trace), environment=str(env), environment_change_file=str(changes))
    assert stats["requests"]["completed"] == 30 and stats["requests"]["failed"] == 0
    assert stats["disaggregation"]["transfers"]["retransfers"] > 0
    assert any(s.attempt > 0 for s in of(events, TransferStarted))
    assert stats["disaggregation"]["ratio"] == "1:1"  # replicas at the end
    assert sorted(e.node for e in of(events, ReplicaRemoved)) == [1, 2]


@pytest.mark.parametrize("async_scheduling", [True, False])
def test_fast_forward_equals_step_mode_with_disaggregation(tmp_path: Path, async_scheduling: bool) -> None:
    """requests.jsonl and stats are identical with and without fast-forward, KV waits and shared links included."""
    env = write_env(tmp_path / "e.json", [node(1, 2, [dep("prefill"), dep("decode", gpu_memory_utilization=0.3,
                                                                          async_scheduling=async_scheduling)]),
                                          node(2, 1, [dep("decode", async_scheduling=async_scheduling)], 25.0)],
                    async_scheduling=async_scheduling)
    trace = write_trace(tmp_path / "t.jsonl", 200, rate=30, in_range=(100, 3000), out_range=(20, 400), model=MODEL)
    fast, events = run(tmp_path / "f", input=str(trace), environment=str(env))
    step, _ = run(tmp_path / "s", input=str(trace), environment=str(env), step_mode=True)
    first = {e.request_id: e.t_ns for e in of(events, FirstToken)}
    starts = of(events, TransferStarted)
    assert any(s.t_ns > first[s.request_id] for s in starts)  # some waited for decode KV
    assert len({s.link.split(":")[0] for s in starts}) == 2  # over NVLink and over the network
    assert (tmp_path / "f/out/requests.jsonl").read_bytes() == (tmp_path / "s/out/requests.jsonl").read_bytes()
    for s in (fast, step):
        s.pop("simulation")
        s.pop("run")
    assert fast == step and fast["requests"]["completed"] == 200


@pytest.mark.parametrize("deployments, field", [
    ([{"model": MODEL, "role": "middle"}], "role"),
    ([{"model": MODEL, "role": "prefill"}], "role"),
    ([{"model": MODEL, "role": "decode"}], "role"),
])
def test_bad_roles_are_one_line_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                       deployments: list[dict], field: str) -> None:
    """An unknown role, or a prefill pool without a decode pool (or the reverse): exit 2, one line naming the field."""
    env = tmp_path / "e.json"
    env.write_text(json.dumps({"nodes": [{"node_id": 1, "gpu_types": [GPU], "gpu_count_per_type": [1],
                                          "deployments": deployments}]}))
    trace = requests(tmp_path / "t.jsonl", [(0.0, 10, 5)])
    assert main(["replay", "-q", "--no-outputs", "-i", str(trace), "-e", str(env)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"nodes[0].deployments[0].{field}" in err[0] and "Traceback" not in err[0]


def test_layerwise_overlap_sends_only_the_last_layer_after_the_prefill(tmp_path: Path) -> None:
    """With layer-wise overlap the transfer after the first token carries 1/num_layers of the prompt's KV."""
    env = tmp_path / "e.json"
    env.write_text(json.dumps({"nodes": [node(1, 2, [dep("prefill"), dep("decode")])],
                               "model_loading_config": {"preload_models": True},
                               "disaggregation": {"layerwise_overlap": True, "transfer_latency_us": 0}}))
    trace = requests(tmp_path / "t.jsonl", [(0.0, 1000, 10)])
    _, events = run(tmp_path, input=str(trace), environment=str(env))
    (start,), (done,) = of(events, TransferStarted), of(events, TransferFinished)
    layers = build_cost_model(Deployment(model=MODEL, hardware=GPU), "default").spec.num_layers
    assert start.kv_bytes == -(-1000 * kv_bytes_per_token() // layers)
    nvlink = with_interconnect(get_hardware(GPU), "nvlink").interconnect_bandwidth_bytes_per_s
    assert done.transfer_ns == solo_ns(start.kv_bytes, nvlink)
