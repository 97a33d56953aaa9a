"""Routing policies: pick the replica that serves a request, from the router's view of load."""

from __future__ import annotations

from typing import Protocol

import msgspec
import numpy as np

from llmsim.errors import UsageError
from protocols.requests import RequestSpec


class ReplicaView(msgspec.Struct, kw_only=True):
    """What the router knows about a replica: only what load reports told it."""

    name: str
    node: int
    model: str
    gpu_type: str
    node_actor: str
    kv_total_blocks: int
    block_size: int
    outstanding: int = 0
    running: int = 0
    waiting: int = 0
    kv_used_blocks: int = 0
    committed_tokens: int = 0

    @property
    def kv_use(self) -> float:
        """Fraction of KV blocks in use."""
        return self.kv_used_blocks / self.kv_total_blocks if self.kv_total_blocks else 1.0

    @property
    def free_kv_tokens(self) -> int:
        """Tokens of KV cache not yet promised to outstanding requests (prompt + output)."""
        return self.kv_total_blocks * self.block_size - self.committed_tokens


class RoutingPolicy(Protocol):
    """Chooses one of the candidate replicas (all serve the request's model, non-empty list)."""

    name: str

    def choose(self, request: RequestSpec, candidates: list[ReplicaView], rng: np.random.Generator) -> ReplicaView: ...


def _argmin_random_tie(candidates: list[ReplicaView], keys: list[float], rng: np.random.Generator) -> ReplicaView:
    best = min(keys)
    ties = [c for c, k in zip(candidates, keys) if k == best]
    return ties[0] if len(ties) == 1 else ties[int(rng.integers(len(ties)))]


class RandomPolicy:
    """Uniformly random replica."""

    name = "random"

    def choose(self, request: RequestSpec, candidates: list[ReplicaView], rng: np.random.Generator) -> ReplicaView:
        return candidates[int(rng.integers(len(candidates)))]


class RoundRobinPolicy:
    """Each model's replicas in turn."""

    name = "round-robin"

    def __init__(self) -> None:
        self._next: dict[str, int] = {}

    def choose(self, request: RequestSpec, candidates: list[ReplicaView], rng: np.random.Generator) -> ReplicaView:
        i = self._next.get(request.model, 0)
        self._next[request.model] = i + 1
        return candidates[i % len(candidates)]


class LeastLoadedPolicy:
    """Fewest outstanding requests; ties broken by the seeded RNG."""

    name = "least-loaded"

    def choose(self, request: RequestSpec, candidates: list[ReplicaView], rng: np.random.Generator) -> ReplicaView:
        return _argmin_random_tie(candidates, [c.outstanding for c in candidates], rng)


class LeastKvPolicy:
    """Lowest KV-cache use; ties by outstanding requests, then the RNG."""

    name = "least-kv"

    def choose(self, request: RequestSpec, candidates: list[ReplicaView], rng: np.random.Generator) -> ReplicaView:
        return _argmin_random_tie(candidates, [c.kv_use + c.outstanding * 1e-9 for c in candidates], rng)


class PowerOfTwoPolicy:
    """Two replicas drawn at random; the less loaded of them."""

    name = "power-of-two"

    def choose(self, request: RequestSpec, candidates: list[ReplicaView], rng: np.random.Generator) -> ReplicaView:
        if len(candidates) == 1:
            return candidates[0]
        i, j = rng.choice(len(candidates), size=2, replace=False)
        a, b = candidates[int(i)], candidates[int(j)]
        return a if a.outstanding <= b.outstanding else b


class BestFitPolicy:
    """Bin packing on KV memory: the tightest fit among replicas that would admit at once.

    A replica qualifies when nothing waits in its queue and its uncommitted KV (capacity minus
    the prompt + output of every outstanding request) holds the request; the one left with the
    least room wins. With no qualifying replica it falls back to least-loaded: packing a
    replica whose queue already grows would trade latency for nothing.
    """

    name = "best-fit"

    def __init__(self) -> None:
        self._fallback = LeastLoadedPolicy()

    def choose(self, request: RequestSpec, candidates: list[ReplicaView], rng: np.random.Generator) -> ReplicaView:
        need = request.input_tokens + request.output_tokens
        fitting = [c for c in candidates if c.waiting == 0 and c.free_kv_tokens >= need]
        if fitting:
            return _argmin_random_tie(fitting, [c.free_kv_tokens - need for c in fitting], rng)
        return self._fallback.choose(request, candidates, rng)


class AffinityPolicy:
    """Sticky: a model keeps its replica while it is not busier than the least loaded + slack."""

    name = "affinity"
    slack = 4

    def __init__(self) -> None:
        self._home: dict[str, str] = {}
        self._fallback = LeastLoadedPolicy()

    def choose(self, request: RequestSpec, candidates: list[ReplicaView], rng: np.random.Generator) -> ReplicaView:
        home = self._home.get(request.model)
        least = min(c.outstanding for c in candidates)
        for c in candidates:
            if c.name == home and c.outstanding <= least + self.slack:
                return c
        chosen = self._fallback.choose(request, candidates, rng)
        self._home[request.model] = chosen.name
        return chosen


ROUTING_POLICIES: dict[str, type] = {
    p.name: p for p in (RandomPolicy, RoundRobinPolicy, LeastLoadedPolicy, LeastKvPolicy, PowerOfTwoPolicy,
                        BestFitPolicy, AffinityPolicy)
}  # the cache-aware ones (llmsim.policies.prefix_routing) join in llmsim/policies/__init__.py


def create_routing_policy(name: str) -> RoutingPolicy:
    """Instantiate a routing policy by name; unknown names list the known ones."""
    cls = ROUTING_POLICIES.get(name)
    if cls is None:
        raise UsageError(f"unknown routing policy {name!r}", field="--routing-policy",
                         expected="one of " + ", ".join(ROUTING_POLICIES))
    return cls()
