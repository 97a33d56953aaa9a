"""Automatic prefix caching of one replica: KV blocks found by a chained hash, shared by refcount, evicted LRU.

The vLLM V1 design in counts, without block ids: a full KV block of a prompt is identified by
a key chained from its parent's key and its own tokens' identity, so a block is found only
when every block before it matches too. Blocks held by running sequences are counted once
however many sequences share them; when the last holder lets go, a cached block stays in the
pool as *evictable* until its space is needed, and the least recently released goes first.
Conservation: free + evictable + used = total blocks, at every step (see `check`).
"""

from __future__ import annotations

from llmsim.memory.kv_cache import KVBlockPool

_MASK = (1 << 61) - 1  # keys stay machine-word ints: Python's own hash of a tuple of ints, truncated


def block_keys(hashes: tuple[int, ...], unit_tokens: int, block_size: int, tokens: int) -> list[int]:
    """Chained keys of the full engine blocks among a request's first `tokens` tokens that the trace identifies.

    A trace names its prompt in units of `unit_tokens` tokens (`hashes[i]` covers tokens
    [i*unit, (i+1)*unit)); an engine block of `block_size` tokens is identified by the units
    it overlaps and its offset in the first of them, chained to its parent block's key. Tokens
    past the last hash have no identity and are never shared.
    """
    if not hashes or unit_tokens <= 0:
        return []
    n = min(tokens, len(hashes) * unit_tokens) // block_size
    keys: list[int] = []
    parent = 0
    for k in range(n):
        lo = k * block_size
        u0, u1 = lo // unit_tokens, (lo + block_size - 1) // unit_tokens
        ident = hashes[u0] if u0 == u1 else hash(hashes[u0:u1 + 1])
        parent = hash((parent, ident, lo - u0 * unit_tokens)) & _MASK
        keys.append(parent)
    return keys


class PrefixCache:
    """Shared and evictable cached blocks of one KV pool, by key.

    `refs[key]` counts the running sequences whose block table holds the cached block `key`
    (those blocks are in `pool.used`, once each); `lru` holds the cached blocks nobody holds,
    oldest release first. Evictable blocks are not in use, so `pool.free` counts them: it is
    what an allocation can get, evicting as it goes (`make_room`), and what the scheduler plans with.
    """

    __slots__ = ("pool", "refs", "lru", "evictions", "version")

    def __init__(self, pool: KVBlockPool) -> None:
        self.pool = pool
        self.refs: dict[int, int] = {}
        self.lru: dict[int, None] = {}  # insertion order = release order: the first key is evicted first
        self.evictions = 0
        self.version = 0  # bumped whenever a lookup's answer may change

    @property
    def evictable(self) -> int:
        """Cached blocks no sequence holds (reclaimable on demand)."""
        return len(self.lru)

    def lookup(self, keys: list[int], limit: int) -> tuple[int, int]:
        """(blocks hit, of them evictable ones) for the longest cached chain of `keys`, at most `limit` blocks."""
        hit = taken = 0
        refs, lru = self.refs, self.lru
        for key in keys[:limit]:
            if key in refs:
                hit += 1
            elif key in lru:
                hit += 1
                taken += 1
            else:
                break
        return hit, taken

    def acquire(self, keys: list[int]) -> None:
        """A sequence takes these cached blocks (a lookup's hit) into its block table."""
        refs, lru = self.refs, self.lru
        for key in keys:
            n = refs.get(key)
            if n is not None:
                refs[key] = n + 1
            else:
                del lru[key]
                refs[key] = 1
                self.pool.used += 1
        if self.pool.used > self.pool.peak:
            self.pool.peak = self.pool.used
        self.version += 1

    def publish(self, key: int) -> None:
        """A sequence's newly computed private block becomes the cached block `key` (still held by it).

        When another sequence computed the same block meanwhile, this one's copy is freed and it
        holds the cached one (vLLM keeps such a duplicate until the request ends: a few blocks).
        """
        refs = self.refs
        n = refs.get(key)
        if n is not None:
            refs[key] = n + 1
            self.pool.used -= 1
        elif key in self.lru:
            del self.lru[key]
            refs[key] = 1
        else:
            refs[key] = 1
        self.version += 1

    def release(self, keys: list[int]) -> None:
        """A sequence lets go of these cached blocks; the last holder's become evictable, tail first."""
        refs, lru = self.refs, self.lru
        for key in reversed(keys):  # a prompt's tail is evicted before its head, as vLLM frees blocks
            n = refs[key] - 1
            if n:
                refs[key] = n
            else:
                del refs[key]
                lru[key] = None
                self.pool.used -= 1
        self.version += 1

    def make_room(self, blocks: int) -> bool:
        """Evict least recently released blocks until `blocks` are truly free; False if the pool lacks them."""
        if blocks > self.pool.free:
            return False
        short = blocks - (self.pool.free - len(self.lru))
        if short <= 0:
            return True
        lru = self.lru
        for _ in range(short):
            del lru[next(iter(lru))]
        self.evictions += short
        self.version += 1
        return True

    def clear(self) -> None:
        """Forget every evictable block (a replica that goes away)."""
        self.lru.clear()
        self.version += 1

    def check(self) -> None:
        """Conservation: the pool's free blocks include the evictable ones; nothing negative."""
        if self.pool.free < len(self.lru) or any(n <= 0 for n in self.refs.values()):
            raise AssertionError(f"prefix cache out of balance: free {self.pool.free}, evictable {len(self.lru)}")
