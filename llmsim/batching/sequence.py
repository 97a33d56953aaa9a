"""The state of one request inside a replica: tokens computed, tokens generated, KV blocks held."""

from __future__ import annotations

from protocols.requests import RequestSpec


class Sequence:
    """A request's progress; `computed` tokens have KV, `generated` tokens have been sampled.

    A sequence prefills `prompt_target` tokens (the prompt, or after a recompute preemption the
    prompt plus everything generated so far), which yields one token; after that each decode
    iteration computes one token's KV and samples the next.
    """

    __slots__ = (
        "req", "prompt_target", "computed", "generated", "blocks", "enqueued_ns", "scheduled_ns",
        "first_token_ns", "last_token_ns", "preemptions", "order", "keys", "seg", "shared", "cached_tokens",
        "hit_memo",
    )

    def __init__(self, req: RequestSpec, enqueued_ns: int, order: int) -> None:
        self.req = req
        self.prompt_target = req.input_tokens
        self.computed = 0
        self.generated = 0
        self.blocks = 0
        self.enqueued_ns = enqueued_ns
        self.scheduled_ns: int | None = None
        self.first_token_ns: int | None = None
        self.last_token_ns = 0
        self.preemptions = 0
        self.order = order
        self.keys: list[int] | None = None  # prefix-cache keys of its identified segments (set on first lookup)
        self.seg = 0  # blocks per prefix-cache segment
        self.shared = 0  # leading blocks of its table that are cached segments (the rest are private)
        self.cached_tokens: int | None = None  # prompt tokens found in the prefix cache at first admission
        self.hit_memo: tuple[int, int, int] = (-1, 0, 0)  # (cache version, segments hit, of them evictable)

    @property
    def in_prefill(self) -> bool:
        """True while prompt tokens still lack KV (chunked prefill may take several iterations)."""
        return self.computed < self.prompt_target

    @property
    def remaining_output(self) -> int:
        """Tokens still to generate."""
        return self.req.output_tokens - self.generated

    def preempt(self) -> None:
        """Drop the KV cache (recompute later; the engine freed its blocks)."""
        self.blocks = 0
        self.shared = 0
        self.computed = 0
        self.prompt_target = self.req.input_tokens + self.generated
        self.preemptions += 1
