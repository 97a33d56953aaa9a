"""The GlobalEngine actor: streams arrivals in, applies environment changes, collects completions.

Only one arrival is ever in the mailbox: after delivering a request it reads the next one from
the workload iterator, so a million-request trace never sits in memory.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator

import msgspec

from actors.node import NodeActor, NodeContext
from llmsim.config.changes import EnvChange
from llmsim.config.environment import NodeSpec
from llmsim.errors import LlmsimError
from llmsim.kernel.actor import Actor, handles
from llmsim.kernel.clock import s_to_ns
from llmsim.output.events import RequestArrived, end_event
from llmsim.workload import TraceRequest
from protocols.control import NextArrival
from protocols.environment import AddGpus, ApplyEnvironmentChange, GpusNotRemoved, NodeJoined, RemoveGpus
from protocols.gpu import GpuStats
from protocols.requests import Outcome, RequestFinished, RequestSpec, RouteRequest

ModelResolver = Callable[[str | None], "str | None"]


class RunTally(msgspec.Struct, frozen=True, kw_only=True):
    """The engine's count of requests, read by the driver after the run (end-of-run invariants)."""

    read: int
    entered: int
    finished: int
    completed: int
    failed: int
    exhausted: bool
    now_ns: int


class GlobalEngine(Actor):
    """Injects the workload, applies environment changes and counts every request out."""

    def __init__(
        self, name: str, *, workload: Iterator[tuple[int, TraceRequest]], router: str, resolve_model: ModelResolver,
        nodes: dict[int, str], node_gpu_types: dict[int, tuple[str, ...]], env_changes: list[EnvChange] = (),  # type: ignore[assignment]
        on_gpu_stats: Callable[[GpuStats], None] | None = None, node_context: NodeContext | None = None,
        concurrency: int = 0, think_time_ns: int = 0,
    ) -> None:
        super().__init__(name)
        self.workload, self.router, self.resolve_model = workload, router, resolve_model
        self.nodes, self.node_gpu_types = nodes, node_gpu_types  # the nodes count the GPUs
        self.env_changes = list(env_changes)
        # The stats callback must not be stored as `on_gpu_stats`: that name is the GpuStats handler.
        self._gpu_stats_sink, self.node_context = on_gpu_stats, node_context
        self.read = 0
        self.entered = 0
        self.finished = 0
        self.outcomes: Counter[str] = Counter()
        self.exhausted = False
        # Closed loop (concurrency > 0): N clients, each sends its next request when its previous
        # one ends (after think_time_ns); the trace's own arrival times are not used.
        self.concurrency, self.think_time_ns = concurrency, think_time_ns
        self.pending = 0  # arrivals scheduled but not yet delivered

    def on_start(self) -> None:
        for _ in range(max(1, self.concurrency)):
            self._read_next(0)
        if self.env_changes:
            self._schedule_change(0)

    # ---- arrivals ----------------------------------------------------------------------
    def _read_next(self, closed_loop_ns: int) -> None:
        """Read the next request and schedule its arrival (or note the end); bad lines were filtered out.

        In a closed loop the request is sent at `closed_loop_ns`, not at the trace's time.
        """
        item = next(self.workload, None)
        if item is None:
            self.exhausted = True
            return
        arrival_ns, tr = item
        if self.concurrency:
            arrival_ns = closed_loop_ns
        self.read += 1
        spec = RequestSpec(id=tr.id, model=tr.model or "", input_tokens=tr.input_tokens,
                           output_tokens=tr.output_tokens, arrival_ns=arrival_ns, priority=tr.priority, line=tr.line,
                           prefix_hashes=tr.prefix_hashes, prefix_block_tokens=tr.prefix_block_tokens)
        self.pending += 1
        self.ctx.send(self.name, NextArrival(request=spec), max(0, arrival_ns - self.ctx.now))

    @handles(NextArrival)
    def on_arrival(self, msg: NextArrival) -> None:
        req = msg.request
        self.pending -= 1
        self.entered += 1
        try:
            model = self.resolve_model(req.model or None)
        except LlmsimError as err:  # no model to take (a refused run): name the trace line
            err.line = req.line
            raise
        self.ctx.emit(RequestArrived(t_ns=self.ctx.now, request_id=req.id, model=model or req.model,
                                     input_tokens=req.input_tokens, output_tokens=req.output_tokens))
        if model is None:
            failed = RequestFinished(request=req, outcome="failed", reason="unknown_model", finish_ns=self.ctx.now)
            self.ctx.emit(end_event(failed))
            self._count(failed.outcome)
        else:
            if model != req.model:
                req = msgspec.structs.replace(req, model=model)
            self.ctx.send(self.router, RouteRequest(request=req))
        if not self.concurrency:
            self._read_next(0)

    @handles(RequestFinished)
    def on_finished(self, msg: RequestFinished) -> None:
        self._count(msg.outcome)

    def _count(self, outcome: Outcome) -> None:
        self.finished += 1
        self.outcomes[outcome] += 1
        if self.concurrency and not self.exhausted:
            self._read_next(self.ctx.now + self.think_time_ns)  # this client's next request

    def tally(self) -> RunTally:
        """What the engine counted so far."""
        return RunTally(read=self.read, entered=self.entered, finished=self.finished,
                        completed=self.outcomes["completed"], failed=self.outcomes["failed"],
                        exhausted=self.exhausted, now_ns=self.ctx.now)

    @property
    def done(self) -> bool:
        """All requests read and finished."""
        return self.exhausted and self.pending == 0 and self.finished == self.entered

    # ---- environment changes -----------------------------------------------------------
    def _schedule_change(self, index: int) -> None:
        at = s_to_ns(self.env_changes[index].timestamp)
        self.ctx.send(self.name, ApplyEnvironmentChange(index=index), max(0, at - self.ctx.now))

    @handles(ApplyEnvironmentChange)
    def on_change(self, msg: ApplyEnvironmentChange) -> None:
        change = self.env_changes[msg.index]
        if change.amount > 0:
            self._add(change.gpu_name, change.amount, change.node)
        elif change.node is not None:
            self.ctx.send(self.nodes[change.node], RemoveGpus(gpu_type=change.gpu_name, amount=-change.amount))
        else:
            self._remove(change.gpu_name, -change.amount)
        if msg.index + 1 < len(self.env_changes):
            self._schedule_change(msg.index + 1)

    def _add(self, gpu: str, amount: int, target: int | None = None) -> None:
        """GPUs join `target`, else the first node built for their type (a new node when none is); the node counts them."""
        if target is not None and gpu not in self.node_gpu_types[target]:
            self.node_gpu_types[target] = (*self.node_gpu_types[target], gpu)
        node = target if target is not None else next((n for n, types in self.node_gpu_types.items() if gpu in types), None)
        if node is None and self.node_context is not None:
            node = self._new_node(gpu, self.node_context)
        if node is not None:
            self.ctx.send(self.nodes[node], AddGpus(gpu_type=gpu, amount=amount))

    def _new_node(self, gpu: str, nctx: NodeContext) -> int:
        """A node created at run time for GPUs of a type no node has; the router learns of it first."""
        node = max(self.nodes, default=-1) + 1
        self.nodes[node] = actor = f"node:{node}"
        self.node_gpu_types[node] = (gpu,)
        self.ctx.spawn(NodeActor(actor, NodeSpec(node_id=node, name=f"added-{gpu}", gpu_types=[gpu],
                                                 gpu_count_per_type=[0]), nctx))
        self.ctx.send(self.router, NodeJoined(node=node, actor=actor))
        return node

    def _remove(self, gpu: str, amount: int, below: int | None = None) -> None:
        """Ask the node of highest id (below `below`) built for this type to give up GPUs; it returns what it lacks."""
        node = max((n for n, types in self.node_gpu_types.items() if gpu in types and (below is None or n < below)),
                   default=None)
        if node is not None:
            self.ctx.send(self.nodes[node], RemoveGpus(gpu_type=gpu, amount=amount))

    @handles(GpusNotRemoved)
    def on_not_removed(self, msg: GpusNotRemoved) -> None:
        self._remove(msg.gpu_type, msg.amount, below=msg.node)

    # ---- statistics ----------------------------------------------------------------------
    @handles(GpuStats)
    def on_gpu_stats(self, msg: GpuStats) -> None:
        if self._gpu_stats_sink is not None:
            self._gpu_stats_sink(msg)
