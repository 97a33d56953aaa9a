"""The disaggregation conversation: a prefill replica hands a request's KV cache to a decode replica.

    prefill GPU ── HandOff ──► Router (decode-side policy) ── AssignDecode ──► Node ── ReserveKv ──► decode GPU
    decode GPU (blocks reserved) ── KvReserved ──► KvTransfer (link model) ── KvDelivered ──► decode GPU
    decode GPU ── ReleaseKv ──► prefill GPU (its copy of the KV is freed)
    decode GPU or Node (replica gone) ── ReturnHandOffs ──► Router (re-transfer); CancelTransfers ──► KvTransfer
"""

from __future__ import annotations

from typing import Union

import msgspec

from protocols.base import Message
from protocols.requests import RequestSpec


class KvSource(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """Where a request's KV lives (or goes): the replica, its node, GPU type and TP layout."""

    replica: str
    node: int
    gpu_type: str
    tp: int
    nvlink_bytes_per_s: float  # one GPU's link to its node's peers (the TP shards travel in parallel)


class HandOff(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """A request whose prompt is computed and first token sampled, with the KV that must move."""

    request: RequestSpec
    source: KvSource
    kv_bytes: int  # what crosses the link (the whole prompt's KV, or its last layer with layer-wise overlap)
    scheduled_ns: int
    first_token_ns: int
    preemptions: int = 0
    cached_tokens: int = 0
    attempt: int = 0  # bumped on every re-transfer, so a stale delivery is recognised


class HandOffMsg(Message, frozen=True, kw_only=True):
    """Prefill GPU -> Router: choose a decode replica for this request."""

    handoff: HandOff


class AssignDecode(Message, frozen=True, kw_only=True):
    """Router -> Node: the named decode replica takes this request."""

    handoff: HandOff
    replica: str


class ReserveKv(Message, frozen=True, kw_only=True):
    """Node -> decode GPU: reserve KV blocks for the request (wait for them if none are free)."""

    handoff: HandOff


class KvReserved(Message, frozen=True, kw_only=True):
    """Decode GPU -> KvTransfer: blocks are reserved; move the KV from the source to this replica."""

    handoff: HandOff
    dest: KvSource


class KvDelivered(Message, frozen=True, kw_only=True):
    """KvTransfer -> decode GPU: the KV has arrived; generation continues from the second token."""

    handoff: HandOff
    transfer_ns: int


class ReleaseKv(Message, frozen=True, kw_only=True):
    """Decode GPU (or Router at the end of a run) -> prefill GPU: the request's KV copy may be freed."""

    request_id: str


class ReturnHandOffs(Message, frozen=True, kw_only=True):
    """Decode GPU or Node -> Router: these requests need another decode replica (theirs went away)."""

    handoffs: tuple[HandOff, ...]


class CancelTransfers(Message, frozen=True, kw_only=True):
    """Decode GPU -> KvTransfer: stop moving KV to this replica (it is leaving)."""

    replica: str


class LinkTick(Message, frozen=True, kw_only=True):
    """KvTransfer -> itself: the earliest transfer on a link ends now (stale if generation moved on)."""

    link: str
    generation: int


DisaggMessage = Union[HandOffMsg, AssignDecode, ReserveKv, KvReserved, KvDelivered, ReleaseKv, ReturnHandOffs,
                      CancelTransfers, LinkTick]
