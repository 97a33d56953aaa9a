"""Links between replicas: bandwidth shared by the transfers on them."""

from llmsim.network.links import FairShareLink, solo_ns

__all__ = ["FairShareLink", "solo_ns"]
