"""The GlobalEngine actor: streams arrivals in, applies environment changes, collects completions.

Only one arrival is ever in the mailbox: after delivering a request it reads the next one from
the workload iterator, so a million-request trace never sits in memory.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator

from llmsim.config.changes import EnvChange
from llmsim.errors import TraceError
from llmsim.kernel.actor import Actor, handles
from llmsim.kernel.clock import s_to_ns
from llmsim.output.events import RequestArrived, RequestFailed, RequestSkipped
from llmsim.workload import TraceRequest
from protocols.control import NextArrival, ProgressTick
from protocols.environment import AddGpus, ApplyEnvironmentChange, RemoveGpus
from protocols.gpu import GpuStats
from protocols.requests import RequestFinished, RequestSpec, RouteRequest

ModelResolver = Callable[[str | None], "str | None"]


class GlobalEngine(Actor):
    """Injects the workload, applies environment changes and counts every request out."""

    def __init__(
        self, name: str, *, workload: Iterator[tuple[int, TraceRequest]], router: str, resolve_model: ModelResolver,
        nodes: dict[int, str], inventory: dict[int, Counter[str]], env_changes: list[EnvChange] = (),  # type: ignore[assignment]
        strict: bool = False, print_interval_ns: int = 0, on_progress: Callable[[GlobalEngine], None] | None = None,
        on_gpu_stats: Callable[[GpuStats], None] | None = None, new_node: Callable[[str], tuple[int, str]] | None = None,
        concurrency: int = 0, think_time_ns: int = 0,
    ) -> None:
        super().__init__(name)
        self.workload, self.router, self.resolve_model = workload, router, resolve_model
        self.nodes, self.inventory = nodes, inventory
        self.env_changes = list(env_changes)
        self.strict = strict
        self.print_interval_ns = print_interval_ns
        # The stats callback must not be stored as `on_gpu_stats`: that name is the GpuStats handler.
        self.on_progress, self._gpu_stats_sink, self.new_node = on_progress, on_gpu_stats, new_node
        self.read = 0
        self.entered = 0
        self.finished = 0
        self.skipped = 0
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
        if self.print_interval_ns > 0:
            self.ctx.send(self.name, ProgressTick(), self.print_interval_ns)

    # ---- arrivals ----------------------------------------------------------------------
    def _read_next(self, closed_loop_ns: int) -> None:
        """Read until the next valid request and schedule its arrival (or note the end).

        In a closed loop the request is sent at `closed_loop_ns`, not at the trace's time.
        """
        for arrival_ns, tr in self.workload:
            if self.concurrency:
                arrival_ns = closed_loop_ns
            self.read += 1
            reason = self._invalid(tr)
            if reason is None:
                spec = RequestSpec(id=tr.id, model=tr.model or "", input_tokens=tr.input_tokens,
                                   output_tokens=tr.output_tokens, arrival_ns=arrival_ns, priority=tr.priority,
                                   line=tr.line)
                self.pending += 1
                self.ctx.send(self.name, NextArrival(request=spec), max(0, arrival_ns - self.ctx.now))
                return
            self.skipped += 1
            self.ctx.emit(RequestSkipped(t_ns=self.ctx.now, request_id=tr.id, line=tr.line, reason=reason))
        self.exhausted = True

    def _invalid(self, tr: TraceRequest) -> str | None:
        if tr.input_tokens > 0 and tr.output_tokens > 0:
            return None
        if self.strict:
            field = "input_tokens" if tr.input_tokens <= 0 else "output_tokens"
            raise TraceError(f"token count {min(tr.input_tokens, tr.output_tokens)} is not positive",
                             line=tr.line, field=field, expected="a positive integer (drop --strict to skip such lines)")
        return "non_positive_tokens"

    @handles(NextArrival)
    def on_arrival(self, msg: NextArrival) -> None:
        req = msg.request
        self.pending -= 1
        self.entered += 1
        model = self.resolve_model(req.model or None)
        self.ctx.emit(RequestArrived(t_ns=self.ctx.now, request_id=req.id, model=model or req.model,
                                     input_tokens=req.input_tokens, output_tokens=req.output_tokens))
        if model is None:
            self.ctx.emit(RequestFailed(t_ns=self.ctx.now, request_id=req.id, model=req.model, reason="unknown_model",
                                        arrival_ns=req.arrival_ns, input_tokens=req.input_tokens,
                                        output_tokens=req.output_tokens))
            self._count("failed")
        else:
            if model != req.model:
                req = RequestSpec(id=req.id, model=model, input_tokens=req.input_tokens, output_tokens=req.output_tokens,
                                  arrival_ns=req.arrival_ns, priority=req.priority, line=req.line)
            self.ctx.send(self.router, RouteRequest(request=req))
        if not self.concurrency:
            self._read_next(0)

    @handles(RequestFinished)
    def on_finished(self, msg: RequestFinished) -> None:
        self._count(msg.outcome)

    def _count(self, outcome: str) -> None:
        self.finished += 1
        self.outcomes[outcome] += 1
        if self.concurrency and not self.exhausted:
            self._read_next(self.ctx.now + self.think_time_ns)  # this client's next request

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
            self._add(change.gpu_name, change.amount)
        else:
            self._remove(change.gpu_name, -change.amount)
        if msg.index + 1 < len(self.env_changes):
            self._schedule_change(msg.index + 1)

    def _add(self, gpu: str, amount: int) -> None:
        node = next((n for n, inv in self.inventory.items() if inv[gpu] > 0), None)
        if node is None and self.new_node is not None:
            node, actor = self.new_node(gpu)
            self.nodes[node] = actor
            self.inventory[node] = Counter()
        if node is None:
            return
        self.inventory[node][gpu] += amount
        self.ctx.send(self.nodes[node], AddGpus(gpu_type=gpu, amount=amount))

    def _remove(self, gpu: str, amount: int) -> None:
        for node in sorted(self.inventory, reverse=True):
            take = min(self.inventory[node][gpu], amount)
            if take > 0:
                self.inventory[node][gpu] -= take
                amount -= take
                self.ctx.send(self.nodes[node], RemoveGpus(gpu_type=gpu, amount=take))
            if amount == 0:
                return

    # ---- progress and statistics ---------------------------------------------------------
    @handles(ProgressTick)
    def on_tick(self, msg: ProgressTick) -> None:
        if self.on_progress is not None:
            self.on_progress(self)
        if not self.done:
            self.ctx.send(self.name, ProgressTick(), self.print_interval_ns)

    @handles(GpuStats)
    def on_gpu_stats(self, msg: GpuStats) -> None:
        if self._gpu_stats_sink is not None:
            self._gpu_stats_sink(msg)
