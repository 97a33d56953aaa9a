"""Re-provisioning policies: which node switches to a model that no replica serves."""

from __future__ import annotations

from typing import Protocol

import msgspec
import numpy as np

from llmsim.errors import UsageError


class NodeView(msgspec.Struct, kw_only=True):
    """What the router knows about a node that could be switched."""

    node: int
    model: str | None
    outstanding: int
    last_used_ns: int


class ReprovisioningPolicy(Protocol):
    """Chooses one node among the candidates (a non-empty list)."""

    name: str

    def choose(self, candidates: list[NodeView], rng: np.random.Generator) -> NodeView: ...


class RandomNode:
    """Any candidate, uniformly."""

    name = "random"

    def choose(self, candidates: list[NodeView], rng: np.random.Generator) -> NodeView:
        return candidates[int(rng.integers(len(candidates)))]


class LeastRecentlyUsedNode:
    """The node whose replicas were routed a request longest ago (idle nodes first)."""

    name = "least-recently-used"

    def choose(self, candidates: list[NodeView], rng: np.random.Generator) -> NodeView:
        return min(candidates, key=lambda c: (c.outstanding > 0, c.last_used_ns, c.node))


class LeastLoadedNode:
    """The node with the fewest outstanding requests (least work to drain)."""

    name = "least-loaded"

    def choose(self, candidates: list[NodeView], rng: np.random.Generator) -> NodeView:
        return min(candidates, key=lambda c: (c.outstanding, c.last_used_ns, c.node))


REPROVISIONING_POLICIES: dict[str, type] = {p.name: p for p in (RandomNode, LeastRecentlyUsedNode, LeastLoadedNode)}


def create_reprovisioning_policy(name: str) -> ReprovisioningPolicy:
    """Instantiate a re-provisioning policy by name; unknown names list the known ones."""
    cls = REPROVISIONING_POLICIES.get(name)
    if cls is None:
        raise UsageError(f"unknown re-provisioning policy {name!r}", field="--reprovisioning-policy",
                         expected="one of " + ", ".join(REPROVISIONING_POLICIES))
    return cls()
