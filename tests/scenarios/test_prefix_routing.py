"""Cache-aware routing: requests follow their routed prefix, fall back on imbalance, and beat random on hits."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from llmsim.options import ReplayOptions
from llmsim.policies.prefix_routing import PrefixAffinityPolicy, PrefixScorerPolicy
from llmsim.policies.routing import ReplicaView
from llmsim.replay import run_replay
from protocols.requests import RequestSpec


def view(name: str, outstanding: int = 0) -> ReplicaView:
    return ReplicaView(name=name, node=0, model="m", gpu_type="g", node_actor="n", kv_total_blocks=1000,
                       block_size=16, outstanding=outstanding)


def request(hashes: tuple[int, ...]) -> RequestSpec:
    return RequestSpec(id="r", model="m", input_tokens=16 * len(hashes) + 5, output_tokens=1, arrival_ns=0,
                       prefix_hashes=hashes, prefix_block_tokens=16)


def test_prefix_affinity_follows_the_prefix_until_the_imbalance_limit() -> None:
    rng = np.random.default_rng(0)
    policy = PrefixAffinityPolicy()
    a, b = view("a", 0), view("b", 0)
    first = policy.choose(request((1, 2, 3)), [a, b], rng)
    other = b if first is a else a
    assert policy.choose(request((1, 2, 9)), [a, b], rng) is first  # shares two units
    busy = view(first.name, outstanding=first.outstanding + policy.imbalance + 1)
    assert policy.choose(request((1, 2, 3)), [busy, other], rng) is other  # too busy: least loaded wins


def test_scorer_weighs_prefix_against_queue() -> None:
    """A whole-prompt match (3) outweighs the emptier queue (2); a quarter match (0.75) does not."""
    rng = np.random.default_rng(0)
    policy = PrefixScorerPolicy()
    home = policy.choose(request((7, 8, 9, 10)), [view("a"), view("b")], rng)
    away = "b" if home.name == "a" else "a"
    assert policy.choose(request((7, 8, 9, 10)), [view(home.name, 5), view(away, 0)], rng).name == home.name
    assert policy.choose(request((7, 1, 2, 3)), [view(home.name, 5), view(away, 0)], rng).name == away


def test_prefix_affinity_finds_more_of_a_shared_prefix_trace_than_random(tmp_path: Path) -> None:
    """40 shared-prompt groups over 4 replicas whose KV pools (768 blocks) hold ~25 groups each:
    routing by prefix reuses every group's prompt after its first request, random routing far less."""
    trace = tmp_path / "t.jsonl"
    lines = [{"llmsim_trace_version": 1}]
    rng = np.random.default_rng(12345)  # not the router's seed: its replica draws would track the groups
    for i in range(400):
        g = int(rng.integers(40))
        lines.append({"input_tokens": 600, "output_tokens": 20, "arrival_s": i * 0.5, "model": "llama-3.1-8b-instruct",
                      "prefix_hashes": [g * 100 + k for k in range(30)] + [10_000 + i], "prefix_block_tokens": 16})
    trace.write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    rates = {}
    for policy in ("random", "prefix-affinity", "prefix-scorer"):
        opts = ReplayOptions(input=str(trace), n_engines=4, hardware="nvidia_H100_SXM", model="llama-3.1-8b-instruct",
                             routing_policy=policy, gpu_memory_utilization=0.21, write_outputs=False, quiet=True,
                             max_num_batched_tokens=2048)  # the activation reserve the 768 blocks were sized with
        stats = run_replay(opts).stats
        assert stats["requests"]["completed"] == 400 and stats["invariants"]["ok"]
        rates[policy] = stats["prefix_cache"]["hit_rate"]
    ideal = (400 - 40) / 400 * 480 / 600  # every request but each group's first finds its 30 shared units
    assert rates["prefix-affinity"] == rates["prefix-scorer"] == ideal
    assert rates["random"] < ideal - 0.2
