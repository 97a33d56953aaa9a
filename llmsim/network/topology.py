"""Which link a KV transfer between two replicas takes, and that link's bandwidth."""

from __future__ import annotations

from protocols.disagg import KvSource

BITS_PER_BYTE = 8


class Topology:
    """Nodes' network links (Gbit/s); inside a node, the GPUs' own link (NVLink or PCIe).

    Inside a node the KV goes from the prefill replica's GPUs to the decode replica's, each TP
    shard over its own GPU link in parallel, so min(TP) links carry it; all transfers out of one
    prefill replica share those links. Across nodes every transfer from node a to node b shares
    one path, as fast as the slower of the two nodes' network links. (Contention between
    different node pairs on one node's network link is not modelled.)
    """

    def __init__(self, network_gbps: dict[int, float], default_gbps: float) -> None:
        self.network_gbps, self.default_gbps = network_gbps, default_gbps

    def link(self, src: KvSource, dst: KvSource) -> tuple[str, float]:
        """(link name, bandwidth in bytes/s) of a transfer from `src` to `dst`."""
        if src.node == dst.node:
            per_gpu = min(src.nvlink_bytes_per_s, dst.nvlink_bytes_per_s)
            return f"n{src.node}:{src.replica}", per_gpu * min(src.tp, dst.tp)
        gbps = min(self.network_gbps.get(src.node, self.default_gbps), self.network_gbps.get(dst.node, self.default_gbps))
        return f"net:n{src.node}->n{dst.node}", gbps * 1e9 / BITS_PER_BYTE
