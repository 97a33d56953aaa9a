"""Routing and re-provisioning policies: a Protocol, small classes, a registry and a factory."""

from llmsim.policies.routing import ROUTING_POLICIES, ReplicaView, RoutingPolicy, create_routing_policy

__all__ = ["ROUTING_POLICIES", "ReplicaView", "RoutingPolicy", "create_routing_policy"]
