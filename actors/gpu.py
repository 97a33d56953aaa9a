"""The GPU actor: one replica (a GPU or a tensor-parallel group) running a vLLM-like engine.

Each iteration it asks the scheduler for a batch plan, applies it, asks the cost service how
long the iteration takes and sets a timer for its end. When the batch cannot change for k
iterations (decode-only, nothing admissible, no completion, KV enough), it asks for k
iteration times at once and sets one timer: event counts grow with batch changes, not tokens.
A message arriving mid-run cuts the run at the next iteration boundary, so results are
identical to stepping one iteration at a time.

Instants have phases (see the mailbox): iteration ends are delivered after the ordinary
messages of their instant, and the next batch is decided in the phase after that. So a batch
decided at time t always includes every request that arrived at or before t, whatever the
order in which the mailbox delivered them, in step mode and in fast-forward alike.
"""

from __future__ import annotations

import bisect
from itertools import accumulate

from llmsim.batching import BatchPlan, Sequence, WaitingQueue, schedule
from llmsim.batching.fastforward import can_extend_prefill, can_fast_forward, decode_tail_length, run_length
from llmsim.config.environment import ServingOptions
from llmsim.kernel.actor import Actor, handles
from llmsim.memory.kv_cache import KVBlockPool, blocks_for
from llmsim.output.events import (
    FirstToken, IterationRun, RequestCompleted, RequestFailed, RequestPreempted, RequestQueued, RequestResumed, RequestScheduled,
)
from llmsim.output.histogram import LogHistogram
from protocols.control import Drain, ReplicaDrained
from protocols.cost import CostQuery, CostReply, Deployment
from protocols.gpu import CollectStats, GpuStats, IterationDone, LoadReport, ReportTick, ScheduleNow

PHASE_ITERATION_END = 1
PHASE_SCHEDULE = 2
from protocols.requests import EnqueueRequest, RequestFinished, RequestSpec, ReturnRequests


class _Run:
    """The iterations in flight: `plan` for the first, then decode-only iterations of `decodes`.

    A decode-only plan repeats k times; a mixed plan (prefill chunks) may be followed by a tail
    of decode iterations of every running sequence, once all its chunks finish their prompts.
    """

    __slots__ = ("plan", "decodes", "mixed_first", "k", "start_ns", "times_ns", "ends_ns")

    def __init__(self, plan: BatchPlan, start_ns: int, times_ns: tuple[int, ...],
                 decodes: list[Sequence] | None = None) -> None:
        self.plan = plan
        self.mixed_first = bool(plan.chunks)
        self.decodes = plan.decodes if decodes is None else decodes
        self.k = len(times_ns)
        self.start_ns = start_ns
        self.times_ns = times_ns
        ends = list(accumulate(times_ns, initial=start_ns))  # plain ints: runs are short, numpy calls cost more
        del ends[0]
        self.ends_ns = ends


class GpuActor(Actor):
    """Serves requests for one model deployment with continuous batching and paged KV."""

    def __init__(
        self, name: str, *, node: int, node_actor: str, gpu_type: str, deployment: Deployment,
        opts: ServingOptions, kv_blocks: int, engine: str, router: str, cost: str, step_mode: bool = False,
        report_interval_ns: int = 0,
    ) -> None:
        super().__init__(name)
        self.node, self.node_actor, self.gpu_type = node, node_actor, gpu_type
        self.deployment, self.opts = deployment, opts
        self.engine, self.router, self.cost = engine, router, cost
        self.step_mode = step_mode
        self.pool = KVBlockPool(kv_blocks, opts.block_size)
        self.waiting = WaitingQueue(by_priority=opts.scheduling == "priority")
        self._fcfs = opts.scheduling != "priority"
        self.running: list[Sequence] = []
        self.run: _Run | None = None
        self.pending_plan = BatchPlan()
        self.costing = False
        self.cut_requested = False
        self.schedule_pending = False
        self.draining = False
        self.drained_reported = False
        self.generation = 0
        self.query_id = 0
        self.order = 0
        self.committed_tokens = 0
        self.itl = LogHistogram()
        self.counters = {"busy_ns": 0, "iterations": 0, "prefill_tokens": 0, "decode_tokens": 0,
                         "batch_size_sum": 0, "preemptions": 0, "busy_until_ns": 0}
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
        if blocks_for(req.input_tokens + req.output_tokens, self.opts.block_size) > self.pool.total:
            self._fail(req, "too_long_for_kv_cache")
            return
        seq = Sequence(req, self.ctx.now, self.order)
        self.order += 1
        self.committed_tokens += req.input_tokens + req.output_tokens
        # FCFS admits in queue order, so a request queued behind one the batch in flight could not
        # take cannot join before that batch ends: cutting the run would change nothing. The cut
        # comes before the push: the iterations it reports ended before this request arrived.
        behind_blocked_head = self._fcfs and len(self.waiting) > 0
        if not (behind_blocked_head and (self.run is not None or self.costing)):
            self._poke()
        self.waiting.push(seq)
        self.ctx.emit(RequestQueued(t_ns=self.ctx.now, request_id=req.id, node=self.node, replica=self.name,
                                    resumed=msg.resumed))
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

    def _schedule(self) -> None:
        if self.run is None and not self.costing:
            self._start_iteration()
            self._report()

    # ---- the iteration loop ------------------------------------------------------------
    def _start_iteration(self) -> None:
        plan = schedule(self.running, self.waiting, self.pool.free, self.opts)
        self._apply(plan)
        if plan.empty:
            self._maybe_drained()
            return
        k, tail_k = 1, 0
        tail_ctx: tuple[int, ...] = ()
        if not self.step_mode:
            if can_fast_forward(plan, self.running, len(self.waiting)):
                k = run_length(plan, self.pool.free, self.opts.block_size)
            elif can_extend_prefill(plan, self.running, len(self.waiting), self.opts.max_num_batched_tokens):
                tail_ctx, tail_k = self._prefill_tail(plan)
        self.query_id += 1
        self.costing = True
        self.pending_plan = plan
        new: tuple[int, ...] = ()
        cached: tuple[int, ...] = ()
        if plan.chunks:
            new = tuple([n for _, n in plan.chunks])
            cached = tuple([s.computed for s, _ in plan.chunks])
        self.ctx.send(self.cost, CostQuery(
            query_id=self.query_id, deployment=self.deployment, prefill_new=new, prefill_cached=cached,
            decode_ctx=tuple([s.computed for s in plan.decodes]), k=k, tail_ctx=tail_ctx, tail_k=tail_k,
        ))

    def _prefill_tail(self, plan: BatchPlan) -> tuple[tuple[int, ...], int]:
        """Contexts and length of the decode iterations that may follow this mixed iteration."""
        after = {id(s): s.computed + n for s, n in plan.chunks}
        ctx = [after.get(id(s), s.computed + 1) for s in self.running]
        remaining = min(s.remaining_output for s in self.running) - 1
        held = sum(s.blocks for s in self.running)
        k = decode_tail_length(ctx, held, self.pool.free, self.opts.block_size, remaining)
        return (tuple(ctx), k) if k else ((), 0)

    def _apply(self, plan: BatchPlan) -> None:
        """Carry out the scheduler's decision: preempt, admit, allocate KV blocks."""
        now = self.ctx.now
        for seq in plan.preempted:
            self.running.remove(seq)
            self.pool.release(seq.preempt())
            self.waiting.push_front(seq)
            self.counters["preemptions"] += 1
            self.ctx.emit(RequestPreempted(t_ns=now, request_id=seq.req.id, node=self.node, replica=self.name,
                                           generated_tokens=seq.generated))
        for seq in plan.admitted:
            self.waiting.pop()
            self.running.append(seq)
            if seq.scheduled_ns is None:
                seq.scheduled_ns = now
                self.ctx.emit(RequestScheduled(t_ns=now, request_id=seq.req.id, node=self.node, replica=self.name))
            else:
                self.ctx.emit(RequestResumed(t_ns=now, request_id=seq.req.id, node=self.node, replica=self.name,
                                             preemptions=seq.preemptions))
        for seq, n in plan.new_blocks:
            if not self.pool.allocate(n):
                raise AssertionError(f"{self.name}: plan allocated {n} blocks with {self.pool.free} free")
            seq.blocks += n

    @handles(CostReply)
    def on_cost(self, msg: CostReply) -> None:
        if msg.query_id != self.query_id:
            return
        self.costing = False
        times = msg.times_ns
        plan = self.pending_plan
        self.run = _Run(plan, self.ctx.now, times, list(self.running) if plan.chunks and len(times) > 1 else None)
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
        self._advance(run, run.k)
        self._complete_finished()
        self._report()
        if self.schedule_pending or not self.ctx.alone_in_instant():
            self._request_schedule()
        else:  # nothing else can arrive at this instant: decide now, as the ScheduleNow would
            self._schedule()

    def _cut(self) -> None:
        """End the current run at the first iteration boundary at or after now."""
        run = self.run
        assert run is not None
        done = bisect.bisect_left(run.ends_ns, self.ctx.now)
        if done >= run.k - 1:
            return
        if done == 0:  # the first iteration is in flight: keep only it
            self.run = _Run(run.plan, run.start_ns, run.times_ns[:1])
            self._set_timer(self.run.ends_ns[0])
            return
        self._advance(run, done)
        for seq in run.decodes:  # blocks for the decode iteration still in flight
            need = blocks_for(seq.computed + 1, self.opts.block_size) - seq.blocks
            if need:
                self.pool.allocate(need)
                seq.blocks += need
        inflight = BatchPlan()
        inflight.decodes = run.decodes
        self.run = _Run(inflight, run.ends_ns[done - 1], run.times_ns[done:done + 1])
        self._set_timer(self.run.ends_ns[0])

    def _advance(self, run: _Run, j: int) -> None:
        """Apply the first j iterations of a run."""
        if run.mixed_first:
            self._advance_mixed(run)
            if j > 1:
                self._advance_decodes(run, j - 1, offset=1)
        else:
            self._advance_decodes(run, j)

    # ---- applying finished iterations ---------------------------------------------------
    def _count(self, start_ns: int, end_ns: int, iterations: int, batch: int, prefill_tokens: int,
               decode_seqs: int) -> None:
        c = self.counters
        c["busy_ns"] += end_ns - start_ns
        c["iterations"] += iterations
        c["prefill_tokens"] += prefill_tokens
        c["decode_tokens"] += decode_seqs * iterations
        c["batch_size_sum"] += batch * iterations
        c["busy_until_ns"] = end_ns
        self.ctx.emit(IterationRun(
            t_ns=end_ns, node=self.node, replica=self.name, start_ns=start_ns, iterations=iterations,
            batch_size=batch, prefill_tokens=prefill_tokens, decode_tokens=decode_seqs * iterations,
            kv_used_blocks=self.pool.used, kv_total_blocks=self.pool.total, waiting=len(self.waiting),
        ))

    def _advance_decodes(self, run: _Run, j: int, offset: int = 0) -> None:
        """Apply j decode iterations of a run, starting after its first `offset` (vectorised)."""
        seqs = run.decodes
        ends = run.ends_ns
        end_j = ends[offset + j - 1]
        first_end = ends[offset]
        gaps = [first_end - s.last_token_ns for s in seqs]
        bs = self.opts.block_size
        for seq in seqs:
            seq.computed += j
            seq.generated += j
            seq.last_token_ns = end_j
            need = blocks_for(seq.computed, bs) - seq.blocks
            if need > 0:
                self.pool.allocate(need)
                seq.blocks += need
        self.itl.add_many(gaps)
        if j > 1:
            self.itl.add_many(run.times_ns[offset + 1:offset + j], count=len(seqs))
        start = ends[offset - 1] if offset else run.start_ns
        self._count(start, end_j, j, len(seqs), 0, len(seqs))

    def _advance_mixed(self, run: _Run) -> None:
        """Apply one iteration of prefill chunks and decodes."""
        end = run.ends_ns[0]
        gaps: list[int] = []
        for seq, n in run.plan.chunks:
            seq.computed += n
            if not seq.in_prefill:
                self._token(seq, end, gaps)
        for seq in run.plan.decodes:  # running decodes have their first token: _token inlined (hot)
            seq.computed += 1
            seq.generated += 1
            gaps.append(end - seq.last_token_ns)
            seq.last_token_ns = end
        if gaps:
            self.itl.add_many(gaps)
        plan = run.plan
        self._count(run.start_ns, end, 1, len(plan.decodes) + len(plan.chunks), sum(n for _, n in plan.chunks),
                    len(plan.decodes))

    def _token(self, seq: Sequence, t_ns: int, gaps: list[int]) -> None:
        seq.generated += 1
        if seq.first_token_ns is None:
            seq.first_token_ns = t_ns
            self.ctx.emit(FirstToken(t_ns=t_ns, request_id=seq.req.id, node=self.node, replica=self.name))
        else:
            gaps.append(t_ns - seq.last_token_ns)
        seq.last_token_ns = t_ns

    def _complete_finished(self) -> None:
        done = [s for s in self.running if s.generated >= s.req.output_tokens]
        if not done:
            return
        self.running = [s for s in self.running if s.generated < s.req.output_tokens]
        now = self.ctx.now
        for seq in done:
            self.committed_tokens -= seq.req.input_tokens + seq.req.output_tokens
            self.pool.release(seq.blocks)
            seq.blocks = 0
            req = seq.req
            assert seq.first_token_ns is not None and seq.scheduled_ns is not None
            self.ctx.emit(RequestCompleted(
                t_ns=now, request_id=req.id, model=req.model, node=self.node, replica=self.name,
                arrival_ns=req.arrival_ns, scheduled_ns=seq.scheduled_ns, first_token_ns=seq.first_token_ns,
                input_tokens=req.input_tokens, output_tokens=req.output_tokens, preemptions=seq.preemptions,
            ))
            self.ctx.send(self.engine, RequestFinished(
                request=req, outcome="completed", node=self.node, replica=self.name, scheduled_ns=seq.scheduled_ns,
                first_token_ns=seq.first_token_ns, finish_ns=now, preemptions=seq.preemptions,
            ))

    def _fail(self, req: RequestSpec, reason: str) -> None:
        now = self.ctx.now
        self.ctx.emit(RequestFailed(t_ns=now, request_id=req.id, model=req.model, reason=reason,
                                    arrival_ns=req.arrival_ns, input_tokens=req.input_tokens,
                                    output_tokens=req.output_tokens, node=self.node, replica=self.name))
        self.ctx.send(self.engine, RequestFinished(request=req, outcome="failed", reason=reason, node=self.node,
                                                   replica=self.name, finish_ns=now))
        self._report()

    # ---- load, draining, statistics -----------------------------------------------------
    def _report(self) -> None:
        """Tell the router when the outstanding count changes or the queue empties or fills.

        Admissions that leave the outstanding count unchanged, and KV growth (per token), are
        not reported on their own: the next report carries them.

        With a report interval, at most one report per interval leaves, carrying the latest
        load: the router then routes on stale information, as real routers do.
        """
        waiting = len(self.waiting)
        key = (len(self.running) + waiting, waiting > 0)
        if key == self._last_report or self._report_tick_pending:
            return
        due_ns = self._last_report_ns + self.report_interval_ns
        if self.ctx.now < due_ns:
            self._report_tick_pending = True
            self.ctx.send(self.name, ReportTick(), due_ns - self.ctx.now)
            return
        self._send_report(key)

    @handles(ReportTick)
    def on_report_tick(self, msg: ReportTick) -> None:
        self._report_tick_pending = False
        if self.run is not None and not self.costing:
            self._cut()  # bring a fast-forwarded run up to now, so the report is exact
        self._report()

    def _send_report(self, key: tuple[int, bool]) -> None:
        self._last_report = key
        self._last_report_ns = self.ctx.now
        self.ctx.send(self.router, LoadReport(
            replica=self.name, model=self.deployment.model, outstanding=key[0], running=len(self.running),
            waiting=len(self.waiting), kv_used_blocks=self.pool.used, kv_total_blocks=self.pool.total,
            block_size=self.opts.block_size, committed_tokens=self.committed_tokens,
        ))

    @handles(Drain)
    def on_drain(self, msg: Drain) -> None:
        self.draining = True
        if msg.return_requests:
            self._return_all()
        self._maybe_drained()

    def _maybe_drained(self) -> None:
        """Tell the node, once, that a draining replica has nothing left."""
        idle = self.run is None and not self.costing and not self.running and not len(self.waiting)
        if self.draining and idle and not self.drained_reported:
            self.drained_reported = True
            self.ctx.send(self.node_actor, ReplicaDrained(replica=self.name))

    def _return_all(self) -> None:
        """Hand every request back to the router (their KV is lost: recomputed elsewhere)."""
        seqs = self.running + self.waiting.drain()
        self.running = []
        self.committed_tokens = 0
        for seq in seqs:
            self.pool.release(seq.blocks)
            seq.blocks = 0
        self.run = None
        self.costing = False
        self.generation += 1
        self.query_id += 1
        if seqs:
            self.ctx.send(self.router, ReturnRequests(requests=tuple(s.req for s in seqs), from_replica=self.name))

    @handles(CollectStats)
    def on_collect(self, msg: CollectStats) -> None:
        c = self.counters
        self.ctx.send(self.engine, GpuStats(
            replica=self.name, node=self.node, gpu_type=self.gpu_type, model=self.deployment.model,
            tp=self.deployment.tp, busy_ns=c["busy_ns"], iterations=c["iterations"],
            prefill_tokens=c["prefill_tokens"], decode_tokens=c["decode_tokens"],
            batch_size_sum=c["batch_size_sum"], preemptions=c["preemptions"], kv_peak_blocks=self.pool.peak,
            kv_total_blocks=self.pool.total, kv_used_blocks_at_end=self.pool.used,
            busy_until_ns=c["busy_until_ns"], itl_counts=tuple(self.itl.counts.tolist()),
            itl_sum_ns=self.itl.sum_ns, itl_max_ns=self.itl.max_ns,
        ))
