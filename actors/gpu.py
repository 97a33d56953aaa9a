"""The GPU actor: the mailbox side of one replica's ReplicaEngine (messages and timers in, messages and events out).

Each batch the engine decides is costed by the cost service, then a timer is set for the end of
its run (k iterations at once when the batch cannot change: event counts grow with batch
changes, not tokens). A message arriving mid-run cuts the run at the next iteration boundary,
so results are identical to stepping one iteration at a time.

Iteration ends are delivered after the ordinary messages of their instant, and the next batch
is decided in the phase after that (see llmsim.kernel.mailbox): a batch decided at time t
includes every request that arrived at or before t, in step mode and fast-forward alike.
"""

from __future__ import annotations

import math

import msgspec

from actors.gpu_records import LoadReportGate, completion, emit_plan, emit_step
from llmsim.batching.engine import ReplicaEngine, Run
from llmsim.batching.scheduler import BatchPlan
from llmsim.batching.sequence import Sequence
from llmsim.batching.step import StepOutput
from llmsim.config.environment import Role, ServingOptions
from llmsim.cost.precision import Precision, precision_text
from llmsim.kernel.actor import Actor, handles
from llmsim.kernel.mailbox import PHASE_ITERATION_END, PHASE_SCHEDULE
from llmsim.output.events import RequestQueued, TransferFinished, end_event
from protocols.control import Drain, ReplicaDrained
from protocols.cost import CostQuery, CostReply, Deployment
from protocols.disagg import (
    CancelTransfers, HandOff, HandOffMsg, KvDelivered, KvReserved, KvSource, ReleaseKv, ReserveKv, ReturnHandOffs,
)
from protocols.gpu import CollectStats, GpuStats, IterationDone, LoadReport, ReportTick, ScheduleNow
from protocols.requests import EnqueueRequest, FailureReason, RequestFinished, RequestSpec, ReturnRequests


class GpuActor(Actor):
    """Serves requests for one model deployment through its ReplicaEngine."""

    def __init__(self, name: str, *, node: int, node_actor: str, gpu_type: str, deployment: Deployment,
                 opts: ServingOptions, kv_blocks: int, engine: str, router: str, cost: str, step_mode: bool = False,
                 report_interval_ns: int = 0, host_blocks: int = 0, load_ns_per_block: float = 0.0,
                 role: Role = "both", kv_actor: str = "", kv_source: KvSource | None = None,
                 handoff_bytes_per_token: float = 0.0) -> None:
        super().__init__(name)
        # Disaggregation: the transfer actor, where this replica's KV lives, bytes a handed-off prompt token sends.
        self.role, self.kv_actor, self.kv_source = role, kv_actor, kv_source
        self.handoff_bytes_per_token = handoff_bytes_per_token
        self.node, self.node_actor, self.gpu_type = node, node_actor, gpu_type
        self.deployment, self.opts = deployment, opts
        self.global_engine, self.router, self.cost = engine, router, cost  # actor names
        self.step_mode = step_mode
        self.engine = ReplicaEngine(opts, kv_blocks, host_blocks, role)
        self.load_ns_per_block = load_ns_per_block
        self.run: Run | None = None
        self.pending_plan = BatchPlan()
        self.costing = self.cut_requested = self.schedule_pending = self.draining = self.drained_reported = False
        self.generation = self.query_id = 0  # stale timers and cost replies carry an older number
        self.reports = LoadReportGate(report_interval_ns)

    # ---- requests in -------------------------------------------------------------------
    @handles(EnqueueRequest)
    def on_enqueue(self, msg: EnqueueRequest) -> None:
        req = msg.request
        if self.draining:
            return self.ctx.send(self.router, ReturnRequests(requests=(req,), from_replica=self.name))
        if (reason := self.engine.rejects(req)) is not None:
            return self._fail(req, reason)
        # FCFS admits in queue order, so a request queued behind one the batch in flight could not
        # take cannot join before that batch ends: cutting the run would change nothing. The cut
        # comes before the request is queued: the iterations it reports ended before it arrived.
        behind_blocked_head = self.engine.fcfs and len(self.engine.waiting) > 0
        if not (behind_blocked_head and (self.run is not None or self.costing)):
            self._poke()
        self.engine.add(req, self.ctx.now)
        self.ctx.emit(RequestQueued(t_ns=self.ctx.now, request_id=req.id, node=self.node, replica=self.name))
        self._report()

    def _poke(self) -> None:
        """Something changed: schedule if idle, or cut a long run at its next boundary."""
        if self.costing:
            self.cut_requested = True
        elif self.run is not None:
            self._cut()
        else:
            self._request_schedule()

    def _request_schedule(self) -> None:  # in the instant's last phase: after every arrival at it
        if not self.schedule_pending:
            self.schedule_pending = True
            self.ctx.send(self.name, ScheduleNow(), 0, PHASE_SCHEDULE)

    @handles(ScheduleNow)
    def on_schedule(self, msg: ScheduleNow) -> None:
        self.schedule_pending = False
        self._schedule()

    # ---- the iteration loop ------------------------------------------------------------
    def _schedule(self) -> None:
        if self.run is not None or self.costing:
            return
        plan = self.engine.schedule(self.ctx.now, fast_forward=not self.step_mode)
        if self.engine.reserved:  # decode role: blocks for KV to come were reserved (between runs: a run counts on them)
            self._send_reserved()
        if plan.preempted or plan.admitted:
            emit_plan(self.ctx.emit, plan, self.ctx.now, self.node, self.name)
        if plan.empty:
            self._maybe_drained()
        else:
            self.query_id += 1
            self.costing = True
            self.pending_plan = plan
            self.ctx.send(self.cost, CostQuery(
                query_id=self.query_id, deployment=self.deployment, prefill_new=plan.prefill_new,
                prefill_cached=plan.prefill_cached, decode_ctx=plan.decode_ctx, k=plan.k, tail_ctx=plan.tail_ctx,
                tail_k=plan.tail_k))
        self._report()

    @handles(CostReply)
    def on_cost(self, msg: CostReply) -> None:
        if msg.query_id != self.query_id:
            return
        self.costing = False
        plan = self.pending_plan
        times = msg.times_ns
        if plan.loaded_blocks:  # prefix-cache blocks copied back from host memory before the iteration computes
            times = (times[0] + round(plan.loaded_blocks * self.load_ns_per_block),) + times[1:]
        self.run = Run(plan, self.ctx.now, times, plan.tail_decodes if len(times) > plan.k else None)
        self._set_timer(self.run.ends_ns[-1])
        if self.cut_requested:
            self.cut_requested = False
            self._cut()

    def _set_timer(self, at_ns: int) -> None:
        self.generation += 1
        self.ctx.send(self.name, IterationDone(generation=self.generation), at_ns - self.ctx.now, PHASE_ITERATION_END)

    @handles(IterationDone)
    def on_iteration_done(self, msg: IterationDone) -> None:
        if msg.generation != self.generation or self.run is None:
            return
        run, self.run = self.run, None
        self._publish(self.engine.update(run, run.k))
        self._report()
        if self.schedule_pending or not self.ctx.alone_in_instant():
            self._request_schedule()
        else:  # nothing else can arrive at this instant: decide now, as the ScheduleNow would
            self._schedule()

    def _cut(self) -> None:
        """End the current run at the first iteration boundary after now where its batch may change."""
        assert self.run is not None
        out, run = self.engine.cut(self.run, self.ctx.now)
        if out is not None:
            self._publish(out)
        if run is not self.run:
            self.run = run
            self._set_timer(run.ends_ns[-1])

    # ---- messages and events, made from the engine's records ------------------------------
    def _publish(self, out: StepOutput) -> None:
        emit_step(self.ctx.emit, out, self.node, self.name, self.engine.pool.total)
        for seq in out.completed:
            self._finish(completion(seq, self.ctx.now, self.node, self.name))
        for seq in out.handed_off:
            self._hand_off(seq)

    def _finish(self, msg: RequestFinished) -> None:
        self.ctx.emit(end_event(msg))
        self.ctx.send(self.global_engine, msg)

    def _fail(self, req: RequestSpec, reason: FailureReason) -> None:
        self._finish(RequestFinished(request=req, outcome="failed", reason=reason, node=self.node, replica=self.name,
                                     finish_ns=self.ctx.now))
        self._report()

    # ---- prefill/decode disaggregation -----------------------------------------------------
    def _hand_off(self, seq: Sequence) -> None:
        """Prefill role: the request's first token is out; the router picks a decode replica for the rest."""
        assert self.kv_source is not None and seq.scheduled_ns is not None and seq.first_token_ns is not None
        req = seq.req
        handoff = HandOff(request=req, source=self.kv_source, kv_bytes=math.ceil(req.input_tokens * self.handoff_bytes_per_token),
                          scheduled_ns=seq.scheduled_ns, first_token_ns=seq.first_token_ns,
                          preemptions=seq.preemptions, cached_tokens=seq.cached_tokens or 0)
        self.ctx.send(self.router, HandOffMsg(handoff=handoff))

    @handles(ReleaseKv)
    def on_release(self, msg: ReleaseKv) -> None:
        if self.engine.release(msg.request_id):
            self._poke()  # blocks came free: a waiting prompt may fit
            self._report()

    @handles(ReserveKv)
    def on_reserve(self, msg: ReserveKv) -> None:
        h = msg.handoff
        if self.draining:
            self.ctx.send(self.router, ReturnHandOffs(handoffs=(h,)))
            return
        if (reason := self.engine.rejects(h.request)) is not None:
            self.ctx.send(h.source.replica, ReleaseKv(request_id=h.request.id))
            return self._fail(h.request, reason)
        self._poke()  # reservations are made between runs: end the current one at its next boundary
        self.engine.offer(h, self.ctx.now)
        self._report()

    def _send_reserved(self) -> None:
        """The transfers may start: the KvTransfer actor moves their KV here."""
        assert self.kv_source is not None
        for h in self.engine.reserved:
            self.ctx.send(self.kv_actor, KvReserved(handoff=h, dest=self.kv_source))
        self.engine.reserved = []

    @handles(KvDelivered)
    def on_delivered(self, msg: KvDelivered) -> None:
        self._poke()  # as for a new request: the iterations a cut reports ended before the KV arrived
        h = msg.handoff
        if self.engine.deliver(h, self.ctx.now):
            self.ctx.send(h.source.replica, ReleaseKv(request_id=h.request.id))
            self.ctx.emit(TransferFinished(t_ns=self.ctx.now, request_id=h.request.id, src_node=h.source.node,
                                           src_replica=h.source.replica, dst_node=self.node, dst_replica=self.name,
                                           transfer_ns=msg.transfer_ns, scheduled_ns=h.scheduled_ns,
                                           first_token_ns=h.first_token_ns))
        self._report()

    # ---- load, draining, statistics -----------------------------------------------------
    def _report(self) -> None:
        """Tell the router the replica's load when the gate says it is worth it (see LoadReportGate)."""
        e = self.engine
        waiting = len(e.waiting) + len(e.offered) + len(e.incoming) if e.role == "decode" else len(e.waiting)
        if wait_ns := self.reports.wait_ns(len(e.running), waiting, self.ctx.now):
            self.ctx.send(self.name, ReportTick(), wait_ns)
        elif wait_ns == 0:
            self.ctx.send(self.router, LoadReport(
                replica=self.name, model=self.deployment.model, outstanding=len(e.running) + waiting,
                running=len(e.running), waiting=waiting, kv_used_blocks=e.pool.used,
                kv_total_blocks=e.pool.total, block_size=self.opts.block_size, committed_tokens=e.committed_tokens))

    @handles(ReportTick)
    def on_report_tick(self, msg: ReportTick) -> None:
        self.reports.tick_pending = False
        if self.run is not None and not self.costing:
            self._cut()  # bring a fast-forwarded run up to now, so the report is exact
        self._report()

    @handles(Drain)
    def on_drain(self, msg: Drain) -> None:
        self.draining = True
        if msg.return_requests:  # their KV is lost: recomputed elsewhere
            seqs = self.engine.take_all()
            self.run, self.costing, self.generation, self.query_id = None, False, self.generation + 1, self.query_id + 1
            if seqs:
                self.ctx.send(self.router, ReturnRequests(requests=tuple(s.req for s in seqs), from_replica=self.name))
            if self.engine.role == "decode":  # KV on its way here goes to another decode replica instead
                self.ctx.send(self.kv_actor, CancelTransfers(replica=self.name))
                if handoffs := self.engine.take_offered():
                    self.ctx.send(self.router, ReturnHandOffs(handoffs=tuple(handoffs)))
        self._maybe_drained()

    def _maybe_drained(self) -> None:
        """Tell the node, once, that a draining replica has nothing left."""
        if self.draining and self.run is None and not self.costing and self.engine.idle and not self.drained_reported:
            self.drained_reported = True
            self.ctx.send(self.node_actor, ReplicaDrained(replica=self.name))

    @handles(CollectStats)
    def on_collect(self, msg: CollectStats) -> None:
        pool, itl, d = self.engine.pool, self.engine.itl, self.deployment
        self.ctx.send(self.global_engine, GpuStats(
            replica=self.name, node=self.node, gpu_type=self.gpu_type, model=self.deployment.model,
            tp=self.deployment.tp, kv_peak_blocks=pool.peak, kv_total_blocks=pool.total, kv_used_blocks_at_end=pool.used,
            itl_counts=tuple(itl.counts.tolist()), itl_sum_ns=itl.sum_ns, itl_max_ns=itl.max_ns,
            kv_block_imbalance=self.engine.block_imbalance(),
            kv_cached_blocks_at_end=0 if self.engine.cache is None else self.engine.cache.evictable, role=self.role,
            max_num_seqs=self.opts.seq_limit, max_num_batched_tokens=self.opts.token_budget,
            chunked_prefill=self.opts.chunked_prefill,
            precision=precision_text(Precision(d.weight_bits, d.activation_bits, d.kv_bits, d.int_compute)),
            **msgspec.structs.asdict(self.engine.counters)))
