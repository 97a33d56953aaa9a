"""Each actor in isolation, with an Inbox standing in for its peers."""

from __future__ import annotations

from collections import Counter

import numpy as np

from actors.cost_service import CostServiceActor
from actors.global_engine import GlobalEngine
from actors.node import NodeActor, NodeContext
from actors.router import RouterActor
from llmsim.config.environment import Infrastructure, ModelLoadingConfig, NodeSpec, ServingOptions
from llmsim.kernel import Simulation
from llmsim.kernel.clock import s_to_ns
from llmsim.policies import create_routing_policy
from llmsim.preflight import TokenFilter
from llmsim.testing import Inbox
from llmsim.workload import TraceRequest
from protocols.control import Finalize, ProvisionModel, ReplicaReady
from protocols.cost import CostQuery, CostReply, Deployment
from protocols.gpu import LoadReport
from protocols.requests import AssignRequest, RequestFinished, RequestSpec, RouteRequest

MODEL = "llama-3.1-8b-instruct"


def spec(i: int, model: str = MODEL) -> RequestSpec:
    return RequestSpec(id=f"r{i}", model=model, input_tokens=100, output_tokens=10, arrival_ns=0)


def test_cost_service_replies_to_sender_with_k_times() -> None:
    """The cost service answers the asking actor with one positive duration per iteration."""
    sim = Simulation()
    inbox = Inbox("gpu")
    sim.add_actor(inbox)
    sim.add_actor(CostServiceActor("cost"))
    dep = Deployment(model=MODEL, hardware="nvidia_A100_80G_SXM")
    sim.post("gpu", "cost", CostQuery(query_id=5, deployment=dep, decode_ctx=(100, 200), k=4))
    sim.run()
    (reply,) = inbox.of(CostReply)
    assert reply.query_id == 5 and len(reply.times_ns) == 4
    assert all(t > 0 for t in reply.times_ns) and list(reply.times_ns) == sorted(reply.times_ns)


def router_sim() -> tuple[Simulation, RouterActor, Inbox, Inbox]:
    sim = Simulation(seed=1)
    engine, node = Inbox("engine"), Inbox("node:1")
    router = RouterActor("router", policy=create_routing_policy("round-robin"), engine="engine", nodes={1: "node:1"})
    for a in (engine, node, router):
        sim.add_actor(a)
    return sim, router, engine, node


def test_router_holds_requests_until_a_replica_is_ready() -> None:
    """No replica: the router asks a node to provision and holds requests; then routes them in turn."""
    sim, router, engine, node = router_sim()
    for i in range(3):
        sim.post("engine", "router", RouteRequest(request=spec(i)))
    sim.run()
    assert [m.model for m in node.of(ProvisionModel)] == [MODEL]
    assert node.of(AssignRequest) == []
    for r in ("n1/g0", "n1/g1"):
        sim.post("node:1", "router", ReplicaReady(replica=r, node=1, model=MODEL, gpu_type="nvidia_A100",
                                                  kv_total_blocks=100, block_size=16))
    sim.run()
    assert [(a.request.id, a.replica) for a in node.of(AssignRequest)] == [
        ("r0", "n1/g0"), ("r1", "n1/g1"), ("r2", "n1/g0")]


def test_router_uses_load_reports_for_least_loaded() -> None:
    """least-loaded picks the replica whose last report shows fewer outstanding requests."""
    sim, router, engine, node = router_sim()
    router.policy = create_routing_policy("least-loaded")
    for r in ("a", "b"):
        sim.post("node:1", "router", ReplicaReady(replica=r, node=1, model=MODEL, gpu_type="nvidia_A100",
                                                  kv_total_blocks=100, block_size=16))
    sim.post("a", "router", LoadReport(replica="a", model=MODEL, outstanding=5, running=5, waiting=0,
                                       kv_used_blocks=0, kv_total_blocks=100, block_size=16))
    sim.post("engine", "router", RouteRequest(request=spec(0)))
    sim.run()
    assert [a.replica for a in node.of(AssignRequest)] == ["b"]


def test_router_fails_waiting_requests_on_finalize() -> None:
    """Requests still waiting for a replica when the run ends fail with no_capacity."""
    sim, router, engine, node = router_sim()
    sim.post("engine", "router", RouteRequest(request=spec(0)))
    sim.run()
    sim.post("driver", "router", Finalize())
    sim.run()
    (done,) = engine.of(RequestFinished)
    assert done.outcome == "failed" and done.reason == "no_capacity"


def test_node_loads_model_and_reports_replicas_after_load_time() -> None:
    """A provisioned node plans one replica per GPU and announces them after the load time."""
    sim = Simulation()
    router = Inbox("router")
    sim.add_actor(router)
    sim.add_actor(CostServiceActor("cost"))
    nctx = NodeContext(engine="engine", router="router", cost="cost", infrastructure=Infrastructure(),
                       loading=ModelLoadingConfig(), defaults=ServingOptions())
    sim.add_actor(NodeActor("node:1", NodeSpec(node_id=1, gpu_types=["nvidia_A100_80G_SXM"], gpu_count_per_type=[2]),
                            nctx))
    sim.post("router", "node:1", ProvisionModel(model=MODEL))
    sim.run()
    ready = router.of(ReplicaReady)
    assert [r.replica for r in ready] == ["n1/g0", "n1/g1"]
    assert all(r.kv_total_blocks > 1000 for r in ready)
    assert sim.now > s_to_ns(5)  # ~16 GB over 2 GB/s disk plus PCIe


def test_engine_keeps_a_single_arrival_in_the_mailbox() -> None:
    """The engine streams: at most one future arrival is queued at any time."""
    reqs = [TraceRequest(id=f"r{i}", line=i + 1, input_tokens=10, output_tokens=5) for i in range(50)]
    workload = ((s_to_ns(i * 0.1), r) for i, r in enumerate(reqs))
    sim = Simulation()
    router = Inbox("router")
    sim.add_actor(router)
    engine = GlobalEngine("engine", workload=workload, router="router", resolve_model=lambda m: MODEL, nodes={},
                          node_gpu_types={})
    sim.add_actor(engine)
    peak = 0
    while True:
        peak = max(peak, len(sim.mailbox))
        if not len(sim.mailbox) and sim.events:
            break
        sim.run(until_ns=sim.now + s_to_ns(0.05))
        if sim.now > s_to_ns(10):
            break
    assert peak <= 1
    assert [m.request.id for m in router.of(RouteRequest)] == [f"r{i}" for i in range(50)]
    assert engine.entered == 50 and engine.exhausted


def test_engine_skips_invalid_and_fails_unknown_models() -> None:
    """Non-positive token counts are skipped (by the token filter) and counted; an unknown model fails at arrival."""
    reqs = [TraceRequest(id="bad", line=1, input_tokens=0, output_tokens=5),
            TraceRequest(id="unk", line=2, input_tokens=5, output_tokens=5, model="nope"),
            TraceRequest(id="ok", line=3, input_tokens=5, output_tokens=5)]
    sim = Simulation()
    router = Inbox("router")
    sim.add_actor(router)
    skipped: list[tuple[str, str]] = []
    workload = TokenFilter(((0, r) for r in reqs), strict=False, on_skip=lambda tr, why: skipped.append((tr.id, why)))
    engine = GlobalEngine("engine", workload=workload, router="router",
                          resolve_model=lambda m: None if m == "nope" else MODEL, nodes={}, node_gpu_types={})
    sim.add_actor(engine)
    sim.run()
    assert skipped == [("bad", "non_positive_tokens")] and engine.read == 2 and engine.entered == 2
    assert engine.outcomes == Counter({"failed": 1})
    assert [m.request.id for m in router.of(RouteRequest)] == ["ok"]
    assert np.isclose(sim.now, 0)
