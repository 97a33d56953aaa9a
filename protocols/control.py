"""The control conversation: arrivals, model provisioning and loading, progress, shutdown."""

from __future__ import annotations

from typing import Union

from protocols.base import Message
from protocols.requests import RequestSpec


class NextArrival(Message, frozen=True, kw_only=True):
    """GlobalEngine -> itself: this request arrives now; then read the next one."""

    request: RequestSpec


class ProvisionModel(Message, frozen=True, kw_only=True):
    """Router -> Node: load this model on your GPUs (drain and unload the current one first)."""

    model: str
    preempt: bool = False


class ModelLoaded(Message, frozen=True, kw_only=True):
    """Node -> itself: the weights of load number `generation` have arrived in GPU memory."""

    generation: int


class ReplicaReady(Message, frozen=True, kw_only=True):
    """Node -> Router: a replica serves `model` and accepts requests."""

    replica: str
    node: int
    model: str
    gpu_type: str
    kv_total_blocks: int
    block_size: int
    role: str = "both"  # prefill, decode or both (disaggregation)


class ReplicaGone(Message, frozen=True, kw_only=True):
    """Node -> Router: a replica stopped accepting requests (unload or GPU removal)."""

    replica: str
    node: int
    model: str


class ProvisionRefused(Message, frozen=True, kw_only=True):
    """Node -> Router: the model does not fit on this node; the numbers say why."""

    node: int
    model: str
    reason: str


class ReplicaDrained(Message, frozen=True, kw_only=True):
    """GPU -> Node: the replica has no requests left (asked to drain) and may be removed."""

    replica: str


class Drain(Message, frozen=True, kw_only=True):
    """Node -> GPU: accept no more requests; report when empty (or return them at once)."""

    return_requests: bool = False


class FlushPending(Message, frozen=True, kw_only=True):
    """Router -> itself: route the requests that waited for `model` (after all ready replicas are known)."""

    model: str


class Finalize(Message, frozen=True, kw_only=True):
    """Driver -> Router: the run is quiescent; fail whatever still waits (no capacity)."""


ControlMessage = Union[
    Finalize, FlushPending,
    NextArrival, ProvisionModel, ModelLoaded, ReplicaReady, ReplicaGone,
    ProvisionRefused, ReplicaDrained, Drain,
]
