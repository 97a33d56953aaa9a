"""The cost conversation: a GPU asks the cost service how long its next iterations take."""

from __future__ import annotations

from typing import Union

from protocols.base import Message


class Deployment(Message, frozen=True, kw_only=True):
    """What a replica runs on: model, GPU type, tensor-parallel degree, precisions."""

    model: str
    hardware: str
    tp: int = 1
    weight_bits: int = 16
    activation_bits: int = 16
    kv_bits: int = 16
    int_compute: bool = False
    interconnect: str | None = None  # the node's GPU link when it differs from the GPU type's default
    custom_all_reduce: bool = True  # False: vLLM's --disable-custom-all-reduce (NCCL for every all-reduce)


class CostQuery(Message, frozen=True, kw_only=True):
    """GPU -> CostService: durations of `k` iterations of this batch, then `tail_k` more.

    With k > 1 the batch must be decode-only; iteration j then has contexts decode_ctx + j.
    The tail (after a one-iteration mixed batch) is decode-only, contexts tail_ctx + j.
    """

    query_id: int
    deployment: Deployment
    prefill_new: tuple[int, ...] = ()
    prefill_cached: tuple[int, ...] = ()
    decode_ctx: tuple[int, ...] = ()
    k: int = 1
    tail_ctx: tuple[int, ...] = ()
    tail_k: int = 0


class CostReply(Message, frozen=True, kw_only=True):
    """CostService -> GPU: one duration (integer ns) per iteration asked for."""

    query_id: int
    times_ns: tuple[int, ...]


CostMessage = Union[CostQuery, CostReply]
