"""The fair-share link: a lone transfer at full bandwidth, concurrent ones share it, shares change on start/end."""

from __future__ import annotations

from llmsim.network.links import FairShareLink, solo_ns
from llmsim.network.topology import Topology
from protocols.disagg import KvSource

GB = 1e9


def _drain(link: FairShareLink) -> dict[str, int]:
    """Run the link to idle the way the transfer actor does: jump to each next end, collect what finished."""
    ends: dict[str, int] = {}
    while (t := link.next_end()) is not None:
        for key in link.finish(t):
            ends[key] = t
    return ends


def test_lone_transfer_takes_bytes_over_bandwidth() -> None:
    """1 GB on a 10 GB/s link: 100 ms, rounded up to whole ns."""
    link = FairShareLink(10 * GB)
    link.add("a", 1e9, 0)
    assert _drain(link) == {"a": 100_000_000} == {"a": solo_ns(1e9, 10 * GB)}


def test_two_transfers_started_together_share_the_bandwidth() -> None:
    """Two equal transfers started at once both end after twice the time one alone takes."""
    link = FairShareLink(10 * GB)
    link.add("a", 1e9, 0)
    link.add("b", 1e9, 0)
    assert _drain(link) == {"a": 200_000_000, "b": 200_000_000}


def test_a_transfer_joining_midway_slows_the_first() -> None:
    """b joins when a is half done: a's second half goes at half speed (ends at 1.5 T), b ends at 2 T."""
    link = FairShareLink(10 * GB)
    link.add("a", 1e9, 0)
    assert link.next_end() == 100_000_000
    link.add("b", 1e9, 50_000_000)
    assert _drain(link) == {"a": 150_000_000, "b": 200_000_000}


def test_a_cancelled_transfer_gives_its_share_back() -> None:
    """Removing b halfway leaves a the whole link again: it ends as if b had taken only its share so far."""
    link = FairShareLink(10 * GB)
    link.add("a", 1e9, 0)
    link.add("b", 1e9, 0)
    assert link.remove("b", 100_000_000) and not link.remove("b", 100_000_000)
    assert _drain(link) == {"a": 150_000_000}


def test_generation_changes_with_every_start_and_end() -> None:
    """A timer armed before a change is recognisably stale."""
    link = FairShareLink(GB)
    g0 = link.generation
    link.add("a", 10, 0)
    assert link.generation != g0
    g1 = link.generation
    _drain(link)
    assert link.generation != g1


def test_topology_nvlink_inside_a_node_network_across() -> None:
    """Same node: per-GPU link x the smaller TP, one link per source replica; across nodes: the slower NIC."""
    topo = Topology({1: 100.0, 2: 400.0}, 100.0)
    p = KvSource(replica="n1/g0-1", node=1, gpu_type="x", tp=2, nvlink_bytes_per_s=450e9)
    d = KvSource(replica="n1/g4", node=1, gpu_type="x", tp=1, nvlink_bytes_per_s=450e9)
    far = KvSource(replica="n2/g0", node=2, gpu_type="x", tp=1, nvlink_bytes_per_s=450e9)
    assert topo.link(p, d) == ("n1:n1/g0-1", 450e9)
    assert topo.link(p, far) == ("net:n1->n2", 100e9 / 8)
