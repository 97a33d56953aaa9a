"""The Router actor: sends each request to a ready replica of its model, or gets one provisioned.

It knows replica load only from load reports. Requests for a model that no replica serves yet
wait here (never dropped) while a node is provisioned; a model that fits on no node fails
with reason `model_does_not_fit`.
"""

from __future__ import annotations

from collections import deque

import msgspec

from llmsim.kernel.actor import Actor, handles
from llmsim.output.events import RequestRouted, end_event
from llmsim.policies.reprovisioning import LeastRecentlyUsedNode, NodeView, ReprovisioningPolicy
from llmsim.policies.routing import LeastKvPolicy, ReplicaView, RoutingPolicy
from protocols.control import Finalize, FlushPending, ProvisionModel, ProvisionRefused, ReplicaGone, ReplicaReady
from protocols.disagg import AssignDecode, HandOff, HandOffMsg, ReleaseKv, ReturnHandOffs
from protocols.environment import NodeJoined, RankReplicas, ReplicaRanking
from protocols.gpu import LoadReport
from protocols.requests import AssignRequest, FailureReason, RequestFinished, RequestSpec, ReturnRequests, RouteRequest


class RouterActor(Actor):
    """Routing policy plus the bookkeeping of which replicas serve which model."""

    def __init__(self, name: str, *, policy: RoutingPolicy, engine: str, nodes: dict[int, str],
                 initial_models: dict[int, str] | None = None, preempt_on_reprovision: bool = False,
                 reprovisioning: ReprovisioningPolicy | None = None, frontend_ns: int = 0,
                 decode_policy: RoutingPolicy | None = None) -> None:
        super().__init__(name)
        self.frontend_ns = frontend_ns  # a replica's API server: from routing to its engine's queue
        self.policy = policy
        # Disaggregation: decode replicas by model (not routed to directly), requests waiting for one.
        self.decode_policy = decode_policy or LeastKvPolicy()
        self.decoders: dict[str, list[ReplicaView]] = {}
        self.pending_decode: dict[str, deque[HandOff]] = {}
        self.finalized = False
        self.reprovisioning = reprovisioning or LeastRecentlyUsedNode()
        self.last_used_ns: dict[int, int] = {n: 0 for n in nodes}
        self.engine = engine
        self.nodes = nodes  # node id -> node actor name
        self.preempt_on_reprovision = preempt_on_reprovision
        self.replicas: dict[str, ReplicaView] = {}
        self.by_model: dict[str, list[ReplicaView]] = {}
        self.pending: dict[str, deque[RequestSpec]] = {}
        self.node_models: dict[int, str | None] = {n: None for n in nodes}
        self.provisioning: dict[str, int] = {}  # model -> node being provisioned for it
        for node, model in (initial_models or {}).items():
            self.node_models[node] = model
            self.provisioning.setdefault(model, node)
        self.refused: dict[str, set[int]] = {}

    # ---- routing -----------------------------------------------------------------------
    @handles(RouteRequest)
    def on_route(self, msg: RouteRequest) -> None:
        self._route(msg.request)

    def _route(self, req: RequestSpec) -> None:
        candidates = self.by_model.get(req.model)
        if not candidates:
            self.pending.setdefault(req.model, deque()).append(req)
            self._provision(req.model)
            return
        chosen = self.policy.choose(req, candidates, self.ctx.rng)
        self.last_used_ns[chosen.node] = self.ctx.now
        self.ctx.emit(RequestRouted(t_ns=self.ctx.now, request_id=req.id, node=chosen.node, replica=chosen.name,
                                    policy=self.policy.name))
        self.ctx.send(chosen.node_actor, AssignRequest(request=req, replica=chosen.name), self.frontend_ns)

    @handles(ReturnRequests)
    def on_return(self, msg: ReturnRequests) -> None:
        for req in msg.requests:
            self._route(req)

    # ---- the decode side (disaggregation) ----------------------------------------------------
    @handles(HandOffMsg)
    def on_handoff(self, msg: HandOffMsg) -> None:
        self._route_decode(msg.handoff)

    @handles(ReturnHandOffs)
    def on_return_handoffs(self, msg: ReturnHandOffs) -> None:
        """Their decode replica left before the KV arrived: another one takes them (a new transfer)."""
        for h in msg.handoffs:
            self._route_decode(msgspec.structs.replace(h, attempt=h.attempt + 1))

    def _route_decode(self, h: HandOff) -> None:
        """A decode replica for a request whose prompt is done; it waits here while the model has none."""
        candidates = self.decoders.get(h.request.model)
        if not candidates and self.finalized:  # the run is over: none will come
            self.ctx.send(h.source.replica, ReleaseKv(request_id=h.request.id))
            return self._fail(h.request, "no_capacity")
        if not candidates:
            self.pending_decode.setdefault(h.request.model, deque()).append(h)
            return
        chosen = self.decode_policy.choose(h.request, candidates, self.ctx.rng)
        self.ctx.send(chosen.node_actor, AssignDecode(handoff=h, replica=chosen.name))

    # ---- provisioning ------------------------------------------------------------------
    def _provision(self, model: str) -> None:
        """Find a node for a model no replica serves: a free node first, else an idle one."""
        if model in self.provisioning:
            return
        refused = self.refused.setdefault(model, set())
        node = self._pick_node(refused)
        if node is None:
            if len(refused) == len(self.nodes):
                self._fail_pending(model, "model_does_not_fit")
            return
        self.provisioning[model] = node
        self.node_models[node] = model
        self.ctx.send(self.nodes[node], ProvisionModel(model=model, preempt=self.preempt_on_reprovision))

    def _pick_node(self, refused: set[int]) -> int | None:
        """A free node if any; else the re-provisioning policy's pick among switchable nodes.

        A node is switchable when it is not loading and its model has no requests waiting for a
        replica (switching it would only move the shortage); its running requests drain first.
        """
        free = [n for n, m in self.node_models.items() if m is None and n not in refused]
        if free:
            return free[0]
        loading = set(self.provisioning.values())
        candidates = [
            NodeView(node=n, model=m, outstanding=sum(r.outstanding for r in self.replicas.values() if r.node == n),
                     last_used_ns=self.last_used_ns.get(n, 0))
            for n, m in self.node_models.items()
            if n not in refused and n not in loading and not self.pending.get(m or "")
        ]
        if not candidates:
            return None
        return self.reprovisioning.choose(candidates, self.ctx.rng).node

    @handles(ProvisionRefused)
    def on_refused(self, msg: ProvisionRefused) -> None:
        self.refused.setdefault(msg.model, set()).add(msg.node)
        if self.provisioning.get(msg.model) == msg.node:
            del self.provisioning[msg.model]
        if self.node_models.get(msg.node) == msg.model:
            self.node_models[msg.node] = None
        self._provision(msg.model)

    @handles(ReplicaReady)
    def on_ready(self, msg: ReplicaReady) -> None:
        view = ReplicaView(name=msg.replica, node=msg.node, model=msg.model, gpu_type=msg.gpu_type,
                           node_actor=self.nodes[msg.node], kv_total_blocks=msg.kv_total_blocks,
                           block_size=msg.block_size)
        self.replicas[msg.replica] = view
        pool = self.decoders if msg.role == "decode" else self.by_model
        pool.setdefault(msg.model, []).append(view)
        self.node_models[msg.node] = msg.model
        if self.provisioning.get(msg.model) == msg.node:
            del self.provisioning[msg.model]
        # Replicas loaded together report together: route the waiting requests once all are known.
        self.ctx.send(self.name, FlushPending(model=msg.model))

    @handles(FlushPending)
    def on_flush(self, msg: FlushPending) -> None:
        if self.decoders.get(msg.model):
            handoffs = self.pending_decode.pop(msg.model, deque())
            while handoffs:
                self._route_decode(handoffs.popleft())
        if not self.by_model.get(msg.model):
            return
        waiting = self.pending.pop(msg.model, deque())
        while waiting:
            self._route(waiting.popleft())

    @handles(ReplicaGone)
    def on_gone(self, msg: ReplicaGone) -> None:
        view = self.replicas.pop(msg.replica, None)
        if view is not None:
            pool = self.by_model if view in self.by_model.get(view.model, ()) else self.decoders
            pool[view.model].remove(view)

    @handles(NodeJoined)
    def on_node_joined(self, msg: NodeJoined) -> None:
        self.nodes[msg.node] = msg.actor
        self.node_models[msg.node] = None
        self.last_used_ns[msg.node] = 0
        for model in [m for m, q in self.pending.items() if q and m not in self.provisioning]:
            self._provision(model)  # requests that found no free node may now have one

    @handles(LoadReport)
    def on_load(self, msg: LoadReport) -> None:
        view = self.replicas.get(msg.replica)
        if view is None:
            return
        view.outstanding, view.running, view.waiting = msg.outstanding, msg.running, msg.waiting
        view.kv_used_blocks = msg.kv_used_blocks
        view.committed_tokens = msg.committed_tokens
        if msg.outstanding == 0:
            for model in [m for m, q in self.pending.items() if q and m not in self.provisioning]:
                self._provision(model)

    @handles(RankReplicas)
    def on_rank(self, msg: RankReplicas) -> None:
        """Order a node's replicas for removal: not yet serving first, then fewest outstanding."""

        def key(name: str) -> tuple[int, int, str]:
            view = self.replicas.get(name)
            return (0, 0, name) if view is None else (1, view.outstanding, name)

        order = tuple(sorted(msg.replicas, key=key))
        self.ctx.send(self.ctx.sender, ReplicaRanking(gpu_type=msg.gpu_type, amount=msg.amount, order=order))

    # ---- end of run --------------------------------------------------------------------
    @handles(Finalize)
    def on_finalize(self, msg: Finalize) -> None:
        self.finalized = True
        for model in list(self.pending):
            self._fail_pending(model, "no_capacity")
        for model in list(self.pending_decode):  # no decode replica came: the prefill replicas free their KV
            for h in self.pending_decode.pop(model):
                self.ctx.send(h.source.replica, ReleaseKv(request_id=h.request.id))
                self._fail(h.request, "no_capacity")

    def _fail_pending(self, model: str, reason: FailureReason) -> None:
        for req in self.pending.pop(model, deque()):
            self._fail(req, reason)

    def _fail(self, req: RequestSpec, reason: FailureReason) -> None:
        msg = RequestFinished(request=req, outcome="failed", reason=reason, finish_ns=self.ctx.now)
        self.ctx.emit(end_event(msg))
        self.ctx.send(self.engine, msg)
