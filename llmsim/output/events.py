"""The event-log schema: one tagged msgspec Struct per kind of event, time in integer ns.

Bump SCHEMA_VERSION whenever a field is renamed or removed; adding optional fields is compatible.
"""

from __future__ import annotations

import json
from typing import Any, Union, get_args

import msgspec

from protocols.requests import FailureReason, RequestFinished

SCHEMA_VERSION = 1


class Event(msgspec.Struct, frozen=True, kw_only=True, tag_field="kind", gc=False):
    """Base of every event: `t_ns` is the virtual time it happened."""

    t_ns: int


class RunStarted(Event, frozen=True, kw_only=True, tag="run_started"):
    """First line of every events.jsonl: schema version and run parameters."""

    schema_version: int = SCHEMA_VERSION
    seed: int = 0
    description: str = ""


class RequestArrived(Event, frozen=True, kw_only=True, tag="request_arrived"):
    """A request entered the cluster (after model resolution)."""

    request_id: str
    model: str
    input_tokens: int
    output_tokens: int


class RequestSkipped(Event, frozen=True, kw_only=True, tag="request_skipped"):
    """A trace line that was invalid and skipped (not counted as a request)."""

    request_id: str
    line: int
    reason: str


class RequestRouted(Event, frozen=True, kw_only=True, tag="request_routed"):
    """The router chose a GPU replica for the request."""

    request_id: str
    node: int
    replica: str
    policy: str


class RequestQueued(Event, frozen=True, kw_only=True, tag="request_queued"):
    """The request joined a replica's waiting queue (`resumed` is always false; kept so old logs still read)."""

    request_id: str
    node: int
    replica: str
    resumed: bool = False


class RequestScheduled(Event, frozen=True, kw_only=True, tag="request_scheduled"):
    """The request was admitted to a running batch for the first time."""

    request_id: str
    node: int
    replica: str


class RequestResumed(Event, frozen=True, kw_only=True, tag="request_resumed"):
    """A preempted request was admitted again: it recomputes its KV cache, then decodes on."""

    request_id: str
    node: int
    replica: str
    preemptions: int


class RequestPreempted(Event, frozen=True, kw_only=True, tag="request_preempted"):
    """KV blocks ran out: the request was evicted (recompute) and put back at the queue front."""

    request_id: str
    node: int
    replica: str
    generated_tokens: int


class FirstToken(Event, frozen=True, kw_only=True, tag="first_token"):
    """The request's first output token was produced (end of its prefill)."""

    request_id: str
    node: int
    replica: str


class RequestCompleted(Event, frozen=True, kw_only=True, tag="request_completed"):
    """The request's last token was produced; carries its whole timing for one-line analysis."""

    request_id: str
    model: str
    node: int
    replica: str
    arrival_ns: int
    scheduled_ns: int
    first_token_ns: int
    input_tokens: int
    output_tokens: int
    preemptions: int = 0
    cached_tokens: int = 0  # prompt tokens found in the prefix cache (not prefilled)


class RequestFailed(Event, frozen=True, kw_only=True, tag="request_failed"):
    """The request could not be served; `reason` says why."""

    request_id: str
    model: str
    reason: FailureReason
    arrival_ns: int
    input_tokens: int
    output_tokens: int
    node: int | None = None
    replica: str | None = None


class IterationRun(Event, frozen=True, kw_only=True, tag="iteration_run"):
    """A run of `iterations` identical-shape iterations from start_ns to t_ns on one replica (KV use and queue at t_ns)."""

    node: int
    replica: str
    start_ns: int
    iterations: int
    batch_size: int
    prefill_tokens: int
    decode_tokens: int
    kv_used_blocks: int
    kv_total_blocks: int
    waiting: int


class ModelLoadStarted(Event, frozen=True, kw_only=True, tag="model_load_started"):
    """A node began loading a model onto `replicas` replicas of `tp` GPUs each."""

    node: int
    model: str
    replicas: int
    tp: int
    load_s: float
    replaces: str | None = None  # the model this node served before (re-provisioning)


class ModelLoadFinished(Event, frozen=True, kw_only=True, tag="model_load_finished"):
    """A model load finished; its replicas can serve."""

    node: int
    model: str
    start_ns: int


class ModelUnloaded(Event, frozen=True, kw_only=True, tag="model_unloaded"):
    """A node dropped a model (re-provisioning)."""

    node: int
    model: str


class ProvisionRefusedEvent(Event, frozen=True, kw_only=True, tag="provision_refused"):
    """A node could not host a model; `reason` says why."""

    node: int
    model: str
    reason: str


class EnvironmentChanged(Event, frozen=True, kw_only=True, tag="environment_changed"):
    """GPUs were added (amount > 0) or removed (amount < 0) on a node."""

    gpu_type: str
    amount: int
    node: int


class ReplicaRemoved(Event, frozen=True, kw_only=True, tag="replica_removed"):
    """A replica stopped for good (its GPUs were removed or its node re-provisioned), once it had drained."""

    node: int
    replica: str
    model: str


class TransferStarted(Event, frozen=True, kw_only=True, tag="transfer_started"):
    """A request's KV cache started moving from a prefill replica to a decode replica (disaggregation)."""

    request_id: str
    src_node: int
    src_replica: str
    dst_node: int
    dst_replica: str
    link: str
    kv_bytes: int
    attempt: int = 0  # > 0: a re-transfer (the decode replica it first went to left)


class TransferFinished(Event, frozen=True, kw_only=True, tag="transfer_finished"):
    """The KV arrived at the decode replica, which continues the request; `transfer_ns` includes the link latency."""

    request_id: str
    src_node: int
    src_replica: str
    dst_node: int
    dst_replica: str
    transfer_ns: int
    scheduled_ns: int  # when the prefill replica admitted the request
    first_token_ns: int  # when the prefill replica sampled its first token


AnyEvent = Union[
    RunStarted, RequestArrived, RequestSkipped, RequestRouted, RequestQueued, RequestScheduled, RequestResumed,
    RequestPreempted, FirstToken, RequestCompleted, RequestFailed, IterationRun, ModelLoadStarted,
    ModelLoadFinished, ModelUnloaded, ProvisionRefusedEvent, EnvironmentChanged, ReplicaRemoved,
    TransferStarted, TransferFinished,
]


def end_event(msg: RequestFinished) -> RequestCompleted | RequestFailed:
    """The event-log line of a request's end, made from the message that reports it."""
    req = msg.request
    if msg.outcome == "completed":
        assert msg.node is not None and msg.replica is not None
        assert msg.scheduled_ns is not None and msg.first_token_ns is not None
        return RequestCompleted(
            t_ns=msg.finish_ns, request_id=req.id, model=req.model, node=msg.node, replica=msg.replica,
            arrival_ns=req.arrival_ns, scheduled_ns=msg.scheduled_ns, first_token_ns=msg.first_token_ns,
            input_tokens=req.input_tokens, output_tokens=req.output_tokens, preemptions=msg.preemptions,
            cached_tokens=msg.cached_tokens,
        )
    assert msg.reason is not None
    return RequestFailed(t_ns=msg.finish_ns, request_id=req.id, model=req.model, reason=msg.reason,
                         arrival_ns=req.arrival_ns, input_tokens=req.input_tokens, output_tokens=req.output_tokens,
                         node=msg.node, replica=msg.replica)


def event_kinds() -> list[str]:
    """Every `kind` tag of AnyEvent, in declaration order."""
    return [str(t.__struct_config__.tag) for t in get_args(AnyEvent)]


def schema_document() -> dict[str, Any]:
    """JSON Schema of one events.jsonl line (what docs/events.schema.json holds)."""
    schema = msgspec.json.schema(AnyEvent)
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "title": "llmsim event",
            "x-schema-version": SCHEMA_VERSION, **schema}


def schema_text() -> str:
    """The schema document as committed: indented, keys sorted, trailing newline."""
    return json.dumps(schema_document(), indent=2, sort_keys=True) + "\n"
