"""The KvTransfer actor: moves handed-off KV caches over the cluster's links, bandwidth shared per link.

Each transfer starts when the decode replica has reserved its blocks (KvReserved), joins the
link between the two replicas (llmsim.network.topology) and shares it with the transfers
already there (llmsim.network.links, processor sharing). When the link delivers its last byte
the decode replica gets the KV after the per-transfer latency (KvDelivered).
"""

from __future__ import annotations

from llmsim.kernel.actor import Actor, handles
from llmsim.network.links import FairShareLink
from llmsim.network.topology import Topology
from llmsim.output.events import TransferStarted
from protocols.disagg import CancelTransfers, KvDelivered, KvReserved, LinkTick


class KvTransferActor(Actor):
    """Active transfers by key (request id and attempt), each on one fair-share link."""

    def __init__(self, name: str, *, topology: Topology, latency_ns: int) -> None:
        super().__init__(name)
        self.topology, self.latency_ns = topology, latency_ns
        self.links: dict[str, FairShareLink] = {}
        self.active: dict[str, tuple[KvReserved, int, str]] = {}  # key -> (reservation, start ns, link)
        self.transfers = 0

    @handles(KvReserved)
    def on_reserved(self, msg: KvReserved) -> None:
        h, now = msg.handoff, self.ctx.now
        name, bandwidth = self.topology.link(h.source, msg.dest)
        link = self.links.get(name)
        if link is None:
            link = self.links[name] = FairShareLink(bandwidth)
        key = f"{h.request.id}#{h.attempt}"
        self.active[key] = (msg, now, name)
        self.transfers += 1
        self.ctx.emit(TransferStarted(t_ns=now, request_id=h.request.id, src_node=h.source.node,
                                      src_replica=h.source.replica, dst_node=msg.dest.node, dst_replica=msg.dest.replica,
                                      link=name, kv_bytes=h.kv_bytes, attempt=h.attempt))
        link.add(key, h.kv_bytes, now)
        self._arm(name, link)

    def _arm(self, name: str, link: FairShareLink) -> None:
        """A timer for the link's next end (older timers of the link are stale by generation)."""
        end = link.next_end()
        if end is not None:
            self.ctx.send(self.name, LinkTick(link=name, generation=link.generation), end - self.ctx.now)

    @handles(LinkTick)
    def on_tick(self, msg: LinkTick) -> None:
        link = self.links[msg.link]
        if msg.generation != link.generation:
            return
        now = self.ctx.now
        for key in link.finish(now):
            reserved, start_ns, _ = self.active.pop(key)
            self.ctx.send(reserved.dest.replica, KvDelivered(handoff=reserved.handoff,
                                                             transfer_ns=now - start_ns + self.latency_ns), self.latency_ns)
        self._arm(msg.link, link)

    @handles(CancelTransfers)
    def on_cancel(self, msg: CancelTransfers) -> None:
        """The decode replica leaves: its transfers stop (the router sends the requests elsewhere)."""
        for key in [k for k, (r, _, _) in self.active.items() if r.dest.replica == msg.replica]:
            name = self.active.pop(key)[2]
            link = self.links[name]
            link.remove(key, self.ctx.now)
            self._arm(name, link)
