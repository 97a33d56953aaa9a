"""Routing and re-provisioning policies: a Protocol, small classes, a registry and a factory."""

from llmsim.policies.reprovisioning import (
    REPROVISIONING_POLICIES, NodeView, ReprovisioningPolicy, create_reprovisioning_policy,
)
from llmsim.policies.prefix_routing import PrefixAffinityPolicy, PrefixScorerPolicy
from llmsim.policies.routing import ROUTING_POLICIES, ReplicaView, RoutingPolicy, create_routing_policy

ROUTING_POLICIES.update({p.name: p for p in (PrefixAffinityPolicy, PrefixScorerPolicy)})

__all__ = [
    "REPROVISIONING_POLICIES", "ROUTING_POLICIES", "NodeView", "ReplicaView", "ReprovisioningPolicy", "RoutingPolicy",
    "create_reprovisioning_policy", "create_routing_policy",
]
