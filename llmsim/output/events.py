"""The event-log schema: one tagged msgspec Struct per kind of event, time in integer ns.

Bump SCHEMA_VERSION whenever a field is renamed or removed; adding optional fields is compatible.
"""

from __future__ import annotations

from typing import Union

import msgspec

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
    request_id: str
    model: str
    input_tokens: int
    output_tokens: int


class RequestSkipped(Event, frozen=True, kw_only=True, tag="request_skipped"):
    request_id: str
    line: int
    reason: str


class RequestRouted(Event, frozen=True, kw_only=True, tag="request_routed"):
    request_id: str
    node: int
    replica: str
    policy: str


class RequestQueued(Event, frozen=True, kw_only=True, tag="request_queued"):
    request_id: str
    node: int
    replica: str
    resumed: bool = False


class RequestScheduled(Event, frozen=True, kw_only=True, tag="request_scheduled"):
    request_id: str
    node: int
    replica: str


class RequestPreempted(Event, frozen=True, kw_only=True, tag="request_preempted"):
    request_id: str
    node: int
    replica: str
    generated_tokens: int


class FirstToken(Event, frozen=True, kw_only=True, tag="first_token"):
    request_id: str
    node: int
    replica: str


class RequestCompleted(Event, frozen=True, kw_only=True, tag="request_completed"):
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


class RequestFailed(Event, frozen=True, kw_only=True, tag="request_failed"):
    request_id: str
    model: str
    reason: str
    arrival_ns: int
    input_tokens: int
    output_tokens: int
    node: int | None = None
    replica: str | None = None


class IterationRun(Event, frozen=True, kw_only=True, tag="iteration_run"):
    """A run of `iterations` identical-shape iterations from start_ns to t_ns on one replica."""

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
    node: int
    model: str
    replicas: int
    tp: int
    load_s: float
    replaces: str | None = None  # the model this node served before (re-provisioning)


class ModelLoadFinished(Event, frozen=True, kw_only=True, tag="model_load_finished"):
    node: int
    model: str
    start_ns: int


class ModelUnloaded(Event, frozen=True, kw_only=True, tag="model_unloaded"):
    node: int
    model: str


class ProvisionRefusedEvent(Event, frozen=True, kw_only=True, tag="provision_refused"):
    node: int
    model: str
    reason: str


class EnvironmentChanged(Event, frozen=True, kw_only=True, tag="environment_changed"):
    gpu_type: str
    amount: int
    node: int


AnyEvent = Union[
    RunStarted, RequestArrived, RequestSkipped, RequestRouted, RequestQueued, RequestScheduled,
    RequestPreempted, FirstToken, RequestCompleted, RequestFailed, IterationRun, ModelLoadStarted,
    ModelLoadFinished, ModelUnloaded, ProvisionRefusedEvent, EnvironmentChanged,
]
