"""Test helpers: a replica harness with a simple cost actor and captured events and completions; folder snapshots."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from actors.gpu import GpuActor
from llmsim.config.environment import ServingOptions
from llmsim.kernel import Actor, Simulation
from llmsim.kernel.actor import handles
from protocols.cost import CostQuery, CostReply, Deployment
from protocols.gpu import LoadReport
from protocols.requests import EnqueueRequest, RequestFinished, RequestSpec

BASE_NS = 1_000_000
PER_PREFILL_TOKEN_NS = 1_000
PER_DECODE_SEQ_NS = 5_000
PER_CONTEXT_TOKEN_NS = 10


def linear_iteration_ns(prefill_new: Iterable[int], decode_ctx: np.ndarray) -> int:
    """A simple, exact cost: fixed + per prefill token + per decode sequence + per context token."""
    ctx = np.asarray(decode_ctx, dtype=np.int64)
    return int(BASE_NS + PER_PREFILL_TOKEN_NS * sum(prefill_new) + PER_DECODE_SEQ_NS * len(ctx)
               + PER_CONTEXT_TOKEN_NS * int(ctx.sum()))


class LinearCostActor(Actor):
    """Answers cost queries with `linear_iteration_ns` (fast-forward asks for k at once)."""

    @handles(CostQuery)
    def on_query(self, q: CostQuery) -> None:
        ctx = np.asarray(q.decode_ctx, dtype=np.int64)
        times = tuple(linear_iteration_ns(q.prefill_new if j == 0 else (), ctx + j) for j in range(q.k))
        tail = np.asarray(q.tail_ctx, dtype=np.int64)
        times += tuple(linear_iteration_ns((), tail + j) for j in range(q.tail_k))
        self.ctx.send(self.ctx.sender, CostReply(query_id=q.query_id, times_ns=times))


class Inbox(Actor):
    """Records every message it receives (stands in for the engine, router or node)."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.messages: list[Any] = []

    def receive(self, msg: Any, env: Any) -> None:
        self.messages.append(msg)

    def of(self, kind: type) -> list[Any]:
        """Messages of one type, in arrival order."""
        return [m for m in self.messages if isinstance(m, kind)]


class Feeder(Actor):
    """Sends each request to the replica at its arrival time."""

    def __init__(self, name: str, replica: str, requests: list[RequestSpec]) -> None:
        super().__init__(name)
        self.replica, self.requests = replica, requests

    def on_start(self) -> None:
        for req in self.requests:
            self.ctx.send(self.replica, EnqueueRequest(request=req), req.arrival_ns)


class ReplicaHarness:
    """One GPU actor with a linear cost actor; captures events, completions and load reports."""

    def __init__(self, requests: list[RequestSpec], opts: ServingOptions, kv_blocks: int, step_mode: bool = False,
                 cost_actor: Actor | None = None, deployment: Deployment | None = None, host_blocks: int = 0,
                 load_ns_per_block: float = 0.0) -> None:
        self.events: list[Any] = []
        self.sim = Simulation(sinks=[self.events.append])
        self.inbox = Inbox("inbox")
        dep = deployment or Deployment(model="test-model", hardware="nvidia_A100")
        self.gpu = GpuActor("gpu", node=1, node_actor="inbox", gpu_type="nvidia_A100", deployment=dep, opts=opts,
                            kv_blocks=kv_blocks, engine="inbox", router="inbox", cost="cost", step_mode=step_mode,
                            host_blocks=host_blocks, load_ns_per_block=load_ns_per_block)
        for actor in (self.inbox, cost_actor or LinearCostActor("cost"), self.gpu,
                      Feeder("feeder", "gpu", requests)):
            self.sim.add_actor(actor)

    def run(self) -> ReplicaHarness:
        """Run to quiescence."""
        self.sim.run()
        return self

    @property
    def finished(self) -> list[RequestFinished]:
        return self.inbox.of(RequestFinished)

    @property
    def reports(self) -> list[LoadReport]:
        return self.inbox.of(LoadReport)

    def events_of(self, kind: type) -> list[Any]:
        """Captured events of one type."""
        return [e for e in self.events if isinstance(e, kind)]


__all__ = ["Feeder", "Inbox", "LinearCostActor", "ReplicaHarness", "linear_iteration_ns"]


def folder_snapshot(folder: Path) -> dict[str, str]:
    """Every entry under `folder`: a hash of its bytes, where a link points, or 'dir' (did a run change anything?)."""
    out = {}
    for path in sorted(folder.rglob("*")):
        key = str(path.relative_to(folder))
        if path.is_symlink():
            out[key] = "link->" + os.readlink(path)
        elif path.is_file():
            out[key] = hashlib.sha256(path.read_bytes()).hexdigest()
        else:
            out[key] = "dir"
    return out
