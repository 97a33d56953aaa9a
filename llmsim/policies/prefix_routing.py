"""Cache-aware routing: send a request where its prompt prefix is likely cached.

The router cannot see the replicas' KV caches (real routers see them only through an event
stream, if at all), so these policies keep their own approximate index of what they routed,
as SGLang's cache-aware router does with its radix tree: per replica, the chained keys of the
prompt units sent there, least recently used dropped first once they exceed what the
replica's KV pool holds. It ignores evictions forced by running sequences, so it is
optimistic under memory pressure; load reports correct the choice through the load terms.
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np

from llmsim.memory.prefix_cache import chain_keys
from llmsim.policies.routing import LeastLoadedPolicy, ReplicaView, _argmin_random_tie
from protocols.requests import RequestSpec


def unit_chain(request: RequestSpec) -> list[int]:
    """Chained keys of the prompt's units (a unit's key names every unit before it too)."""
    return chain_keys(request.prefix_hashes)


class RoutedPrefixIndex:
    """Per replica, an LRU of the prompt-unit keys routed to it, bounded by its KV pool."""

    def __init__(self) -> None:
        self._units: dict[str, OrderedDict[int, None]] = {}

    def matched(self, replica: str, keys: list[int]) -> int:
        """Leading units of `keys` that were routed to this replica and not yet dropped."""
        units = self._units.get(replica)
        if not units:
            return 0
        n = 0
        for key in keys:
            if key not in units:
                break
            n += 1
        return n

    def record(self, view: ReplicaView, keys: list[int], unit_tokens: int) -> None:
        """Note that these units were sent to `view`'s replica (most recent last)."""
        units = self._units.setdefault(view.name, OrderedDict())
        for key in keys:
            units[key] = None
            units.move_to_end(key)
        capacity = max(1, view.kv_total_blocks * view.block_size // max(1, unit_tokens))
        while len(units) > capacity:
            units.popitem(last=False)


class PrefixAffinityPolicy:
    """The replica with the longest routed prefix; least-loaded when none matches or when the
    best one has `imbalance` more outstanding requests than the least loaded (SGLang's rule)."""

    name = "prefix-affinity"
    imbalance = 16

    def __init__(self) -> None:
        self.index = RoutedPrefixIndex()
        self._fallback = LeastLoadedPolicy()

    def choose(self, request: RequestSpec, candidates: list[ReplicaView], rng: np.random.Generator) -> ReplicaView:
        keys = unit_chain(request)
        chosen = None
        if keys:
            matched = [self.index.matched(c.name, keys) for c in candidates]
            best = max(matched)
            if best:
                least = min(c.outstanding for c in candidates)
                near = [c for c, m in zip(candidates, matched) if m == best]
                pick = _argmin_random_tie(near, [c.outstanding for c in near], rng)
                if pick.outstanding - least <= self.imbalance:
                    chosen = pick
        if chosen is None:
            chosen = self._fallback.choose(request, candidates, rng)
        if keys:
            self.index.record(chosen, keys, request.prefix_block_tokens)
        return chosen


class PrefixScorerPolicy:
    """A weighted score, llm-d style: prefix match (share of the prompt's units routed there before),
    queue (fewest waiting and running, scaled over the candidates) and free KV, each in [0, 1].

    Weights 3 (prefix) and 2 (queue) are llm-d's default profile as Red Hat documents it; the
    KV-utilisation weight 2 is llmsim's choice. Ties go to the seeded RNG.
    """

    name = "prefix-scorer"
    weights = (3.0, 2.0, 2.0)

    def __init__(self) -> None:
        self.index = RoutedPrefixIndex()

    def choose(self, request: RequestSpec, candidates: list[ReplicaView], rng: np.random.Generator) -> ReplicaView:
        keys = unit_chain(request)
        w_prefix, w_queue, w_kv = self.weights
        loads = [c.outstanding for c in candidates]
        lo, hi = min(loads), max(loads)
        scores = []
        for c, load in zip(candidates, loads):
            prefix = self.index.matched(c.name, keys) / len(keys) if keys else 0.0
            queue = (hi - load) / (hi - lo) if hi > lo else 1.0
            scores.append(-(w_prefix * prefix + w_queue * queue + w_kv * (1.0 - c.kv_use)))
        chosen = _argmin_random_tie(candidates, scores, rng)
        if keys:
            self.index.record(chosen, keys, request.prefix_block_tokens)
        return chosen
