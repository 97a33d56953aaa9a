"""The request conversation: engine -> router -> node -> GPU, and completions back to the engine."""

from __future__ import annotations

from typing import Literal, Union

import msgspec

from protocols.base import Message


class RequestSpec(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """One inference request as it enters the run (model already resolved to its canonical name)."""

    id: str
    model: str
    input_tokens: int
    output_tokens: int
    arrival_ns: int
    priority: int = 0
    line: int = 0
    prefix_hashes: tuple[int, ...] = ()  # identity of the prompt's blocks, `prefix_block_tokens` tokens each
    prefix_block_tokens: int = 0


Outcome = Literal["completed", "failed"]
"""How a request left the system."""

FailureReason = Literal["unknown_model", "model_does_not_fit", "no_capacity", "too_long_for_kv_cache"]
"""Why a request could not be served: its model is unknown, fits no node, no capacity was left
at the end of the run, or its whole KV cache exceeds its replica's pool."""


class RouteRequest(Message, frozen=True, kw_only=True):
    """GlobalEngine -> Router: a request has arrived and needs a replica."""

    request: RequestSpec


class AssignRequest(Message, frozen=True, kw_only=True):
    """Router -> Node: serve this request on the named replica."""

    request: RequestSpec
    replica: str


class EnqueueRequest(Message, frozen=True, kw_only=True):
    """Node -> GPU: put this request in the replica's waiting queue."""

    request: RequestSpec


class RequestFinished(Message, frozen=True, kw_only=True):
    """GPU or Router -> GlobalEngine: the request left the system, completed or failed.

    The one record of a request's end: its event-log line is made from it (llmsim.output.events.end_event).
    """

    request: RequestSpec
    outcome: Outcome
    reason: FailureReason | None = None
    node: int | None = None
    replica: str | None = None
    scheduled_ns: int | None = None
    first_token_ns: int | None = None
    finish_ns: int = 0
    preemptions: int = 0
    cached_tokens: int = 0  # prompt tokens found in the prefix cache at admission


class ReturnRequests(Message, frozen=True, kw_only=True):
    """Node or GPU -> Router: requests that must be routed again (their replica went away)."""

    requests: tuple[RequestSpec, ...]
    from_replica: str


RequestMessage = Union[RouteRequest, AssignRequest, EnqueueRequest, RequestFinished, ReturnRequests]
