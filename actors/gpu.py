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

from llmsim.batching.engine import ReplicaEngine, Run
from llmsim.batching.scheduler import BatchPlan
from llmsim.batching.step import StepOutput
from llmsim.config.environment import ServingOptions
from llmsim.kernel.actor import Actor, handles
from llmsim.kernel.mailbox import PHASE_ITERATION_END, PHASE_SCHEDULE
from llmsim.output.events import (
    FirstToken, IterationRun, RequestPreempted, RequestQueued, RequestResumed, RequestScheduled, end_event,
)
from protocols.control import Drain, ReplicaDrained
from protocols.cost import CostQuery, CostReply, Deployment
from protocols.gpu import CollectStats, GpuStats, IterationDone, LoadReport, ReportTick, ScheduleNow
from protocols.requests import EnqueueRequest, FailureReason, RequestFinished, RequestSpec, ReturnRequests


class GpuActor(Actor):
    """Serves requests for one model deployment through its ReplicaEngine."""

    def __init__(
        self, name: str, *, node: int, node_actor: str, gpu_type: str, deployment: Deployment,
        opts: ServingOptions, kv_blocks: int, engine: str, router: str, cost: str, step_mode: bool = False,
        report_interval_ns: int = 0,
    ) -> None:
        super().__init__(name)
        self.node, self.node_actor, self.gpu_type = node, node_actor, gpu_type
        self.deployment, self.opts = deployment, opts
        self.global_engine, self.router, self.cost = engine, router, cost  # actor names
        self.step_mode = step_mode
        self.engine = ReplicaEngine(opts, kv_blocks)
        self.run: Run | None = None
        self.pending_plan = BatchPlan()
        self.costing = self.cut_requested = self.schedule_pending = False
        self.draining = self.drained_reported = False
        self.generation = self.query_id = 0
        self._last_report: tuple[int, bool] | None = None
        self.report_interval_ns = report_interval_ns
        self._last_report_ns = -report_interval_ns
        self._report_tick_pending = False

    # ---- requests in -------------------------------------------------------------------
    @handles(EnqueueRequest)
    def on_enqueue(self, msg: EnqueueRequest) -> None:
        req = msg.request
        if self.draining:
            self.ctx.send(self.router, ReturnRequests(requests=(req,), from_replica=self.name))
            return
        reason = self.engine.rejects(req)
        if reason is not None:
            self._fail(req, reason)
            return
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

    def _request_schedule(self) -> None:
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
        self._publish_plan(plan)
        if plan.empty:
            self._maybe_drained()
        else:
            self.query_id += 1
            self.costing = True
            self.pending_plan = plan
            self.ctx.send(self.cost, CostQuery(
                query_id=self.query_id, deployment=self.deployment,
                prefill_new=tuple([n for _, n in plan.chunks]), prefill_cached=tuple([s.computed for s, _ in plan.chunks]),
                decode_ctx=tuple([s.computed for s in plan.decodes]), k=plan.k, tail_ctx=plan.tail_ctx,
                tail_k=plan.tail_k,
            ))
        self._report()

    @handles(CostReply)
    def on_cost(self, msg: CostReply) -> None:
        if msg.query_id != self.query_id:
            return
        self.costing = False
        plan = self.pending_plan
        self.run = Run(plan, self.ctx.now, msg.times_ns, plan.tail_decodes if len(msg.times_ns) > plan.k else None)
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
        """End the current run at the first iteration boundary at or after now."""
        assert self.run is not None
        out, run = self.engine.cut(self.run, self.ctx.now)
        if out is not None:
            self._publish(out)
        if run is not self.run:
            self.run = run
            self._set_timer(run.ends_ns[0])

    # ---- messages and events, made from the engine's records ------------------------------
    def _publish_plan(self, plan: BatchPlan) -> None:
        now, node, name = self.ctx.now, self.node, self.name
        for seq in plan.preempted:
            self.ctx.emit(RequestPreempted(t_ns=now, request_id=seq.req.id, node=node, replica=name,
                                           generated_tokens=seq.generated))
        for seq in plan.admitted:
            if seq.preemptions:
                self.ctx.emit(RequestResumed(t_ns=now, request_id=seq.req.id, node=node, replica=name,
                                             preemptions=seq.preemptions))
            else:
                self.ctx.emit(RequestScheduled(t_ns=now, request_id=seq.req.id, node=node, replica=name))

    def _publish(self, out: StepOutput) -> None:
        emit, node, name = self.ctx.emit, self.node, self.name
        for seq, t_ns in out.first_tokens:
            emit(FirstToken(t_ns=t_ns, request_id=seq.req.id, node=node, replica=name))
        for it in out.iterations:
            emit(IterationRun(t_ns=it.end_ns, node=node, replica=name, start_ns=it.start_ns, iterations=it.iterations,
                              batch_size=it.batch_size, prefill_tokens=it.prefill_tokens,
                              decode_tokens=it.decode_tokens, kv_used_blocks=it.kv_used_blocks,
                              kv_total_blocks=self.engine.pool.total, waiting=it.waiting))
        for seq in out.completed:
            self._finish(RequestFinished(request=seq.req, outcome="completed", node=node, replica=name,
                                         scheduled_ns=seq.scheduled_ns, first_token_ns=seq.first_token_ns,
                                         finish_ns=self.ctx.now, preemptions=seq.preemptions))

    def _finish(self, msg: RequestFinished) -> None:
        self.ctx.emit(end_event(msg))
        self.ctx.send(self.global_engine, msg)

    def _fail(self, req: RequestSpec, reason: FailureReason) -> None:
        self._finish(RequestFinished(request=req, outcome="failed", reason=reason, node=self.node, replica=self.name,
                                     finish_ns=self.ctx.now))
        self._report()

    # ---- load, draining, statistics -----------------------------------------------------
    def _report(self) -> None:
        """Tell the router when the outstanding count changes or the queue empties or fills.

        Admissions that leave the outstanding count unchanged, and KV growth (per token), are
        not reported on their own: the next report carries them. With a report interval, at
        most one report per interval leaves, carrying the latest load (stale, as real routers see).
        """
        waiting = len(self.engine.waiting)
        key = (len(self.engine.running) + waiting, waiting > 0)
        if key == self._last_report or self._report_tick_pending:
            return
        due_ns = self._last_report_ns + self.report_interval_ns
        if self.ctx.now < due_ns:
            self._report_tick_pending = True
            self.ctx.send(self.name, ReportTick(), due_ns - self.ctx.now)
            return
        self._last_report, self._last_report_ns = key, self.ctx.now
        e = self.engine
        self.ctx.send(self.router, LoadReport(
            replica=self.name, model=self.deployment.model, outstanding=key[0], running=len(e.running),
            waiting=waiting, kv_used_blocks=e.pool.used, kv_total_blocks=e.pool.total,
            block_size=self.opts.block_size, committed_tokens=e.committed_tokens,
        ))

    @handles(ReportTick)
    def on_report_tick(self, msg: ReportTick) -> None:
        self._report_tick_pending = False
        if self.run is not None and not self.costing:
            self._cut()  # bring a fast-forwarded run up to now, so the report is exact
        self._report()

    @handles(Drain)
    def on_drain(self, msg: Drain) -> None:
        self.draining = True
        if msg.return_requests:  # their KV is lost: recomputed elsewhere
            seqs = self.engine.take_all()
            self.run, self.costing = None, False
            self.generation += 1
            self.query_id += 1
            if seqs:
                self.ctx.send(self.router, ReturnRequests(requests=tuple(s.req for s in seqs), from_replica=self.name))
        self._maybe_drained()

    def _maybe_drained(self) -> None:
        """Tell the node, once, that a draining replica has nothing left."""
        idle = self.run is None and not self.costing and self.engine.idle
        if self.draining and idle and not self.drained_reported:
            self.drained_reported = True
            self.ctx.send(self.node_actor, ReplicaDrained(replica=self.name))

    @handles(CollectStats)
    def on_collect(self, msg: CollectStats) -> None:
        c, pool, itl = self.engine.counters, self.engine.pool, self.engine.itl
        self.ctx.send(self.global_engine, GpuStats(
            replica=self.name, node=self.node, gpu_type=self.gpu_type, model=self.deployment.model,
            tp=self.deployment.tp, busy_ns=c.busy_ns, iterations=c.iterations, prefill_tokens=c.prefill_tokens,
            decode_tokens=c.decode_tokens, batch_size_sum=c.batch_size_sum, preemptions=c.preemptions,
            kv_peak_blocks=pool.peak, kv_total_blocks=pool.total, kv_used_blocks_at_end=pool.used,
            busy_until_ns=c.busy_until_ns, itl_counts=tuple(itl.counts.tolist()), itl_sum_ns=itl.sum_ns,
            itl_max_ns=itl.max_ns,
        ))
