"""The environment conversation: GPUs added to or removed from the cluster at given times."""

from __future__ import annotations

from typing import Union

from protocols.base import Message


class ApplyEnvironmentChange(Message, frozen=True, kw_only=True):
    """GlobalEngine -> itself: the change at this index of the change file takes effect now."""

    index: int


class AddGpus(Message, frozen=True, kw_only=True):
    """GlobalEngine -> Node: these GPUs joined the node."""

    gpu_type: str
    amount: int


class NodeJoined(Message, frozen=True, kw_only=True):
    """GlobalEngine -> Router: a node created at run time (GPUs of a type no node had); it may be provisioned."""

    node: int
    actor: str


class RemoveGpus(Message, frozen=True, kw_only=True):
    """GlobalEngine -> Node: take this many GPUs of this type away (idle replicas first)."""

    gpu_type: str
    amount: int


class GpusNotRemoved(Message, frozen=True, kw_only=True):
    """Node -> GlobalEngine: this node had only part of a removal; take `amount` more from a lower node."""

    node: int
    gpu_type: str
    amount: int


class RankReplicas(Message, frozen=True, kw_only=True):
    """Node -> Router: order these replicas for removal, idlest first (only the router sees load)."""

    node: int
    gpu_type: str
    amount: int
    replicas: tuple[str, ...]


class ReplicaRanking(Message, frozen=True, kw_only=True):
    """Router -> Node: the replicas of a RankReplicas question, fewest outstanding requests first."""

    gpu_type: str
    amount: int
    order: tuple[str, ...]


EnvironmentMessage = Union[ApplyEnvironmentChange, AddGpus, NodeJoined, RemoveGpus, GpusNotRemoved, RankReplicas, ReplicaRanking]
