"""The paged KV cache of one replica: a pool of fixed-size blocks, counted, never overcommitted."""

from __future__ import annotations


def blocks_for(tokens: int, block_size: int) -> int:
    """Blocks needed to hold `tokens` tokens of KV cache."""
    return -(-tokens // block_size)


class KVBlockPool:
    """Fixed pool of KV blocks; `allocate` grants all blocks asked for or none."""

    __slots__ = ("total", "block_size", "used", "peak")

    def __init__(self, total_blocks: int, block_size: int) -> None:
        if total_blocks < 0 or block_size <= 0:
            raise ValueError("pool needs total_blocks >= 0 and block_size > 0")
        self.total = total_blocks
        self.block_size = block_size
        self.used = 0
        self.peak = 0

    @property
    def free(self) -> int:
        """Blocks not in use."""
        return self.total - self.used

    def allocate(self, n: int) -> bool:
        """Take `n` blocks if that many are free; return whether it happened."""
        if n > self.total - self.used:
            return False
        self.used += n
        if self.used > self.peak:
            self.peak = self.used
        return True

    def release(self, n: int) -> None:
        """Return `n` blocks to the pool."""
        if n > self.used:
            raise ValueError(f"releasing {n} blocks but only {self.used} in use")
        self.used -= n
