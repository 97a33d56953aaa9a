"""Automatic prefix caching of one replica: KV segments found by a chained hash, shared by refcount, evicted LRU.

The vLLM V1 design in counts, without block ids. A trace names a prompt's content in units
of `unit` tokens (Mooncake's `hash_ids`: 512 tokens each; a canonical trace's
`prefix_hashes`, `prefix_block_tokens` each). The cache works in *segments*: the shortest run
of whole units that is also whole engine blocks (lcm(unit, block size) tokens: one 512-token
unit of 32 blocks for Mooncake, one block for 16-token units). A segment's key is chained
from its parent's key and its units' hashes, so a segment is found only when every segment
before it matches too. That is the finest identity the trace gives; vLLM hashes each 16-token
block, which for these traces finds the same hits, plus the full blocks of a trailing partial
unit that llmsim does not share.

Segments held by running sequences are counted once however many sequences share them; when
the last holder lets go, a cached segment stays in the pool as *evictable* until its space is
needed, and the least recently released goes first (a prompt's tail before its head).
Conservation: free + evictable + used = total blocks, at every step (`check`).

An optional second tier in host memory (LMCache / vLLM KV offload): a segment evicted from HBM
moves to host memory, least recently used dropped there in turn; a lookup's chain continues
through it, and a hit there takes fresh HBM blocks and costs its bytes over PCIe (the replica
adds that to the iteration that admits the request).
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Iterable

from llmsim.memory.kv_cache import KVBlockPool

_MASK = (1 << 61) - 1  # keys stay machine-word ints: Python's hash of a tuple of ints, truncated


def chain_keys(idents: Iterable[int], start: int = 0) -> list[int]:
    """Chained keys: each names its identity and every one before it (equal keys = equal prefixes)."""
    keys: list[int] = []
    parent = start
    for ident in idents:
        parent = hash((parent, ident)) & _MASK
        keys.append(parent)
    return keys


def segment_tokens(unit_tokens: int, block_size: int) -> int:
    """Tokens of one cache segment: whole trace units that are whole engine blocks."""
    return unit_tokens * block_size // math.gcd(unit_tokens, block_size)


def identified_tokens(n_hashes: int, unit_tokens: int, input_tokens: int, output_tokens: int) -> int:
    """Tokens whose content the hashes name: the prompt's (a partial last unit is named but not shareable),
    and the output's when the trace lists hashes past the prompt (a multi-turn generator knows them)."""
    covered = n_hashes * unit_tokens
    if n_hashes <= -(-input_tokens // unit_tokens):
        return min(covered, input_tokens)
    return min(covered, input_tokens + output_tokens)


def segment_keys(hashes: tuple[int, ...], unit_tokens: int, block_size: int, tokens: int) -> tuple[list[int], int]:
    """(chained keys of the full segments among the first `tokens` identified tokens, blocks per segment).

    No hashes: ([], 0).
    """
    if not hashes or unit_tokens <= 0:
        return [], 0
    seg = segment_tokens(unit_tokens, block_size)
    per = seg // unit_tokens
    n = tokens // seg
    idents = hashes[:n] if per == 1 else [hash(hashes[i * per:(i + 1) * per]) for i in range(n)]
    return chain_keys(idents, start=seg), seg // block_size  # start: segments of different sizes never share a key


class PrefixCache:
    """Shared and evictable cached segments of one KV pool, by key.

    `refs[key]` counts the running sequences whose block table holds the cached segment `key`
    (its blocks are in `pool.used`, once); `lru` maps the cached segments nobody holds to their
    size in blocks, oldest release first. Evictable blocks are not in use, so `pool.free`
    counts them: it is what an allocation can get, evicting as it goes (`make_room`), and what
    the scheduler plans with.
    """

    __slots__ = ("pool", "refs", "lru", "evictable", "evictions", "version", "host", "host_capacity", "host_used")

    def __init__(self, pool: KVBlockPool, host_blocks: int = 0) -> None:
        self.pool = pool
        self.refs: dict[int, int] = {}
        # Release order, oldest first. An OrderedDict pops its head in O(1); a plain dict's head
        # pop rescans the deleted slots before it (quadratic: 60 s of an 80 s Mooncake run).
        self.lru: OrderedDict[int, int] = OrderedDict()
        self.evictable = 0  # blocks in lru
        self.evictions = 0  # blocks evicted
        self.version = 0  # bumped whenever a lookup's answer may change
        self.host: OrderedDict[int, int] = OrderedDict()  # segments offloaded to host memory, oldest first
        self.host_capacity = host_blocks
        self.host_used = 0

    def lookup(self, keys: list[int], limit: int) -> tuple[int, int, int]:
        """(segments hit, of them evictable in HBM, of them in host memory) for the longest cached chain."""
        hit = taken = loaded = 0
        refs, lru, host = self.refs, self.lru, self.host
        for key in keys[:limit]:
            if key in refs:
                hit += 1
            elif key in lru:
                hit += 1
                taken += 1
            elif key in host:
                hit += 1
                loaded += 1
            else:
                break
        return hit, taken, loaded

    def acquire(self, keys: list[int], blocks: int) -> list[int]:
        """A sequence takes the HBM-cached segments among `keys` (a lookup's hit, `blocks` blocks each) into
        its block table; returns the keys found in host memory instead, for `load` once HBM ones are held."""
        refs, lru, pool = self.refs, self.lru, self.pool
        offloaded = []
        for key in keys:
            n = refs.get(key)
            if n is not None:
                refs[key] = n + 1
            elif key in lru:
                del lru[key]
                self.evictable -= blocks
                refs[key] = 1
                pool.used += blocks
            else:
                offloaded.append(key)
        if pool.used > pool.peak:
            pool.peak = pool.used
        self.version += 1
        return offloaded

    def load(self, items: list[tuple[int, int]]) -> int:
        """Bring host-memory segments (key, blocks) back into fresh HBM blocks, one hold per item (a key
        may come twice: two sequences of one batch); the blocks loaded over PCIe.

        The segments leave host memory before room is made, so the offloads that making room causes
        cannot push them out.
        """
        refs, host, pool = self.refs, self.host, self.pool
        fresh = {key: blocks for key, blocks in items if key not in refs}
        for key in fresh:
            self.host_used -= host.pop(key)
        loaded = sum(fresh.values())
        if not self.make_room(loaded):
            raise AssertionError(f"no room for {loaded} blocks loaded from host memory")
        for key, _ in items:
            refs[key] = refs.get(key, 0) + 1
        pool.used += loaded
        if pool.used > pool.peak:
            pool.peak = pool.used
        self.version += 1
        return loaded

    def publish(self, keys: list[int], blocks: int) -> None:
        """A sequence's newly computed private segments become the cached segments `keys` (still held by it).

        When another sequence computed the same segment meanwhile, this one's copy is freed and it
        holds the cached one (vLLM keeps such a duplicate until the request ends).
        """
        refs, lru, pool = self.refs, self.lru, self.pool
        for key in keys:
            n = refs.get(key)
            if n is not None:
                refs[key] = n + 1
                pool.used -= blocks
            else:
                if key in lru:  # computed again while cached: keep the cached copy, free this one (net 0 used)
                    del lru[key]
                    self.evictable -= blocks
                refs[key] = 1
        self.version += 1

    def release(self, keys: list[int], blocks: int) -> None:
        """A sequence lets go of these cached segments; the last holder's become evictable, tail first."""
        refs, lru = self.refs, self.lru
        freed = 0
        for key in reversed(keys):  # a prompt's tail is evicted before its head, as vLLM frees blocks
            n = refs[key] - 1
            if n:
                refs[key] = n
            else:
                del refs[key]
                lru[key] = blocks
                freed += blocks
        self.evictable += freed
        self.pool.used -= freed
        self.version += 1

    def held_alone(self, keys: list[int], blocks: int) -> int:
        """Blocks of these segments that no other sequence holds (what releasing them makes evictable)."""
        refs = self.refs
        return blocks * sum(1 for key in keys if refs[key] == 1)

    def make_room(self, blocks: int) -> bool:
        """Evict least recently released segments until `blocks` are truly free; False if the pool lacks them."""
        if blocks > self.pool.free:
            return False
        short = blocks - (self.pool.free - self.evictable)
        if short <= 0:
            return True
        pop = self.lru.popitem
        evicted = 0
        while evicted < short:
            key, size = pop(last=False)
            evicted += size
            if self.host_capacity:
                self._offload(key, size)
        self.evictable -= evicted
        self.evictions += evicted
        self.version += 1
        return True

    def _offload(self, key: int, blocks: int) -> None:
        """An evicted segment's copy goes to host memory; the host's least recently used make room."""
        host = self.host
        if key in host:  # recomputed while a copy sat in host memory: keep that one
            host.move_to_end(key)
            return
        host[key] = blocks
        self.host_used += blocks
        while self.host_used > self.host_capacity:
            self.host_used -= host.popitem(last=False)[1]

    def clear(self) -> None:
        """Forget every evictable segment (a replica that goes away)."""
        self.lru.clear()
        self.host.clear()
        self.host_used = 0
        self.evictable = 0
        self.version += 1

    def check(self) -> None:
        """Conservation: the pool's free blocks include the evictable ones, counted right; refcounts positive."""
        if self.evictable != sum(self.lru.values()) or self.pool.free < self.evictable:
            raise AssertionError(f"prefix cache out of balance: free {self.pool.free}, evictable {self.evictable}")
        if any(n <= 0 for n in self.refs.values()):
            raise AssertionError("prefix cache holds a segment with no holder")
