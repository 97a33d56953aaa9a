"""What a replica's engine reports after iterations end: one record from which messages and events are made."""

from __future__ import annotations

import msgspec

from llmsim.batching.sequence import Sequence


class IterationRecord:
    """A run of `iterations` same-shape iterations, with KV use and queue length at its end."""

    __slots__ = ("start_ns", "end_ns", "iterations", "batch_size", "prefill_tokens", "decode_tokens",
                 "kv_used_blocks", "waiting")

    def __init__(self, start_ns: int, end_ns: int, iterations: int, batch_size: int, prefill_tokens: int,
                 decode_tokens: int, kv_used_blocks: int, waiting: int) -> None:
        self.start_ns, self.end_ns, self.iterations = start_ns, end_ns, iterations
        self.batch_size, self.prefill_tokens, self.decode_tokens = batch_size, prefill_tokens, decode_tokens
        self.kv_used_blocks, self.waiting = kv_used_blocks, waiting


class StepOutput:
    """The outcome of `ReplicaEngine.update`: first tokens, iteration runs and completions, in order."""

    __slots__ = ("first_tokens", "iterations", "completed", "handed_off")

    def __init__(self) -> None:
        self.first_tokens: list[tuple[Sequence, int]] = []  # (sequence, t_ns) of each first token sampled
        self.iterations: list[IterationRecord] = []
        self.completed: list[Sequence] = []  # finished, KV released, no longer running
        self.handed_off: list[Sequence] = []  # prefill role: first token sampled, KV held for the transfer


class ReplicaCounters(msgspec.Struct, kw_only=True, gc=False):
    """Running totals of one replica, reported once at the end of the run."""

    busy_ns: int = 0
    iterations: int = 0
    prefill_tokens: int = 0
    decode_tokens: int = 0
    batch_size_sum: int = 0
    preemptions: int = 0
    busy_until_ns: int = 0
    prompt_tokens: int = 0  # prompt tokens of first admissions
    cached_prompt_tokens: int = 0  # of them, found in the prefix cache
    host_loaded_blocks: int = 0  # prefix-cache blocks brought back from host memory
