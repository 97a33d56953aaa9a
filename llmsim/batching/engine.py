"""The serving engine of one replica (pure): queues, KV blocks and sequences; schedule(), then update().

The vLLM v1 contract without the simulation: `schedule(now_ns)` decides the next batch with
the pure `schedule` function and commits it (preemptions, admissions, KV blocks); the caller
costs the batch and later calls `update(run, k)` with the first k iterations that ended. A
fast-forward run is k > 1; a cut (a message arrived mid-run) is an update with fewer
iterations, after which the run goes on with the iteration in flight. No actor, no kernel, no
messages: the GPU actor turns plans and StepOutputs into messages and events.
"""

from __future__ import annotations

import bisect
from collections import deque
from collections.abc import Iterable
from itertools import accumulate, takewhile

from llmsim.batching.fastforward import can_extend_prefill, can_fast_forward, decode_tail_length, run_length
from llmsim.batching.queue import WaitingQueue
from llmsim.batching.scheduler import BatchPlan, schedule
from llmsim.batching.sequence import Sequence
from llmsim.batching.step import IterationRecord, ReplicaCounters, StepOutput
from llmsim.config.environment import Role, ServingOptions
from llmsim.memory.kv_cache import KVBlockPool, blocks_for
from llmsim.memory.prefix_cache import PrefixCache, identified_tokens, segment_keys
from llmsim.output.histogram import LogHistogram
from protocols.disagg import HandOff
from protocols.requests import FailureReason, RequestSpec


class Run:
    """Iterations in flight: `plan` for the first, then decode-only iterations of `decodes`.

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


class ReplicaEngine:
    """One replica's waiting queue, running set, KV block pool and statistics.

    A `prefill` replica hands each request off once its first token is sampled: the request
    leaves the running set but its KV blocks stay (`handed`) until `release`. A `decode`
    replica takes requests whose KV arrives from elsewhere: `offer` queues them, `schedule`
    gives them blocks (first come, first served, when there is room; the GPU reads `reserved`),
    `deliver` hands their KV over and the next `schedule` runs them from their second token.
    With async scheduling, offers and deliveries that came after a busy engine decided its next
    batch wait one more boundary, as new requests do (`_horizon`).
    """

    def __init__(self, opts: ServingOptions, kv_blocks: int, host_blocks: int = 0, role: Role = "both") -> None:
        self.opts = opts
        self.role = role
        self.prefill_only = role == "prefill"
        self.handed: dict[str, Sequence] = {}  # prefill: requests handed off, KV held until released
        self.offered: deque[tuple[int, HandOff]] = deque()  # decode: (when offered, request) waiting for KV blocks
        self.incoming: dict[str, tuple[Sequence, HandOff]] = {}  # decode: blocks reserved, KV on its way
        self.arrived: list[tuple[int, Sequence]] = []  # decode: (when, sequence) KV here, joins at a boundary
        self.reserved: list[HandOff] = []  # decode: reservations the last `schedule` made (the GPU sends them)
        self.pool = KVBlockPool(kv_blocks, opts.block_size)
        self.cache = PrefixCache(self.pool, host_blocks) if opts.enable_prefix_caching else None
        self.waiting = WaitingQueue(by_priority=opts.scheduling == "priority")
        self.fcfs = opts.scheduling != "priority"
        self.running: list[Sequence] = []
        self.order = 0
        self.committed_tokens = 0  # prompt + output tokens of every request held
        # Async scheduling: when the last iteration began and ended, and when the newest request came.
        self.decided_ns = self.busy_until_ns = self.newest_ns = -1
        self.itl = LogHistogram()
        self.counters = ReplicaCounters()

    # ---- requests in and out -------------------------------------------------------------
    def rejects(self, req: RequestSpec) -> FailureReason | None:
        """Why this request can never be served here (its whole KV exceeds the pool), or None."""
        if blocks_for(req.input_tokens + req.output_tokens, self.opts.block_size) > self.pool.total:
            return "too_long_for_kv_cache"
        return None

    def add(self, req: RequestSpec, now_ns: int) -> None:
        """Queue a request (the caller checked `rejects`)."""
        self.waiting.push(Sequence(req, now_ns, self.order))
        self.newest_ns = now_ns
        self.order += 1
        self.committed_tokens += req.input_tokens + req.output_tokens

    @property
    def idle(self) -> bool:
        """Nothing running, waiting, held for a transfer or on its way."""
        return (not self.running and not len(self.waiting) and not self.handed and not self.offered
                and not self.incoming and not self.arrived)

    def take_all(self) -> list[Sequence]:
        """Remove every request, running (or whose KV just arrived) then waiting, and free their KV (they
        recompute elsewhere). Requests handed off, offered or reserved stay: see `release`, `take_offered`."""
        seqs = self.running + [seq for _, seq in self.arrived] + self.waiting.drain()
        self.running, self.arrived = [], []
        self.committed_tokens -= sum(seq.req.input_tokens + seq.req.output_tokens for seq in seqs)
        for seq in seqs:
            self._free(seq)
        if self.cache is not None and not self.handed:
            self.cache.clear()
        return seqs

    # ---- prefill/decode disaggregation -----------------------------------------------------
    def release(self, request_id: str) -> bool:
        """Free the KV of a handed-off request (its transfer is done); False when it is not held here."""
        seq = self.handed.pop(request_id, None)
        if seq is None:
            return False
        self.committed_tokens -= seq.req.input_tokens
        self._free(seq)
        return True

    def offer(self, handoff: HandOff, now_ns: int) -> None:
        """Queue a request whose KV will come from a prefill replica (the caller checked `rejects`)."""
        self.offered.append((now_ns, handoff))
        self.committed_tokens += handoff.request.input_tokens + handoff.request.output_tokens

    def _horizon(self, now_ns: int) -> int | None:
        """With async scheduling, a busy engine decided the batch starting now when its last iteration began:
        what came after that waits for the next boundary. None: everything that came is visible."""
        if not self.opts.async_scheduling or self.busy_until_ns != now_ns or not self.running:
            return None
        return self.decided_ns

    def _intake(self, now_ns: int, horizon: int | None) -> bool:
        """Decode role, before a batch is decided: delivered KV joins the running set and offered requests
        get blocks, those that came up to `horizon` (None: all); True when some have to wait for later."""
        if self.arrived:
            late = [(t, seq) for t, seq in self.arrived if horizon is not None and t > horizon]
            self.running += [seq for t, seq in self.arrived if horizon is None or t <= horizon]
            self.arrived = late
        self.reserved = self._reserve_offered(horizon, now_ns) if self.offered else []
        return bool(self.arrived) or bool(self.offered and horizon is not None and self.offered[0][0] > horizon)

    def _reserve_offered(self, horizon: int | None, now_ns: int) -> list[HandOff]:
        """Give KV blocks to offered requests in order while they fit (one block of headroom per running
        sequence is kept for its growth) and the sequence cap allows; the ones that got them."""
        got: list[HandOff] = []
        bs, cap = self.opts.block_size, self.opts.seq_limit
        while self.offered:
            t, h = self.offered[0]
            if horizon is not None and t > horizon:
                break
            need = blocks_for(h.request.input_tokens, bs)
            if len(self.running) + len(self.incoming) >= cap or \
                    need + len(self.running) > self.pool.free:
                break
            seq = Sequence(h.request, now_ns, self.order)
            self.order += 1
            if self._reserve(seq, h.request.input_tokens) is None:  # free counted cached blocks: evicts them
                break
            self.offered.popleft()
            self.incoming[h.request.id] = (seq, h)
            got.append(h)
        return got

    def deliver(self, handoff: HandOff, now_ns: int) -> bool:
        """The KV of a reserved request arrived: it runs from its second token. False when not reserved here."""
        entry = self.incoming.get(handoff.request.id)
        if entry is None or entry[1].attempt != handoff.attempt:
            return False
        del self.incoming[handoff.request.id]
        seq = entry[0]
        seq.computed = seq.prompt_target = handoff.request.input_tokens
        seq.generated = 1
        seq.scheduled_ns, seq.first_token_ns = handoff.scheduled_ns, handoff.first_token_ns
        seq.last_token_ns = handoff.first_token_ns  # the user's first gap spans the transfer
        seq.preemptions, seq.cached_tokens = handoff.preemptions, handoff.cached_tokens
        self.arrived.append((now_ns, seq))
        return True

    def take_offered(self) -> list[HandOff]:
        """Remove every request offered or reserved here (the replica leaves), freeing reserved blocks."""
        out = [h for _, h in self.offered] + [h for _, h in self.incoming.values()]
        for seq, h in self.incoming.values():
            self._free(seq)
        for h in out:
            self.committed_tokens -= h.request.input_tokens + h.request.output_tokens
        self.offered.clear()
        self.incoming.clear()
        return out

    def _hand_off(self, out: StepOutput) -> None:
        """Prefill role: requests that sampled their first token (and have more to generate) leave, KV held."""
        leaving = [s for s in self.running if s.generated >= 1 and s.generated < s.req.output_tokens]
        if not leaving:
            return
        self.running = [s for s in self.running if not (s.generated >= 1 and s.generated < s.req.output_tokens)]
        for seq in leaving:
            self.committed_tokens -= seq.req.output_tokens
            self.handed[seq.req.id] = seq
        out.handed_off = leaving

    # ---- the two calls ---------------------------------------------------------------------
    def schedule(self, now_ns: int, fast_forward: bool = True) -> BatchPlan:
        """Decide the next batch, commit it (preempt, admit, allocate) and size its run.

        With `fast_forward`, `plan.k` decode iterations (or one mixed iteration and `tail_k`
        decode iterations of `tail_decodes`) can run before the batch must change.
        """
        cache = None if self.cache is None else self
        deferred = (self.offered or self.arrived) and self._intake(now_ns, self._horizon(now_ns))
        waiting = self._visible(now_ns)
        plan = schedule(self.running, waiting, self.pool.free, self.opts, cache)
        self._commit(plan, now_ns)
        if waiting is not self.waiting:  # requests are hidden: they join at the next boundary
            if plan.empty:  # nothing runs meanwhile: the engine, idle, takes them now
                plan = schedule(self.running, self.waiting, self.pool.free, self.opts, cache)
                self._commit(plan, now_ns)
            return plan
        if plan.empty and deferred:  # nothing runs meanwhile: the engine, idle, takes them now
            self._intake(now_ns, None)
            plan = schedule(self.running, self.waiting, self.pool.free, self.opts, cache)
            self._commit(plan, now_ns)
            return plan
        if plan.empty or not fast_forward or deferred:
            return plan
        if can_fast_forward(plan, self.running) and not self._head_may_fit_sooner():
            plan.k = run_length(plan, self.pool.free, self.opts.block_size)
        elif not self.prefill_only and can_extend_prefill(plan, self.running, len(self.waiting), self.opts.token_budget):
            self._size_tail(plan)
        return plan

    def _head_may_fit_sooner(self) -> bool:
        """Could the waiting head, refused now, be admitted before a running request completes?

        Without prefix caching no: free blocks only shrink (can_fast_forward). With it, the head may
        start from cached blocks that nothing holds; decode iterations can evict them, and a smaller
        hit can shrink what its first chunk allocates (the chunk is capped by the token budget), so
        it may fit an iteration later. Such runs go one iteration at a time. Measured: a hypothesis
        case (tests/batching/test_prefix_cache.py) where fast-forward admitted one iteration late.
        """
        if self.cache is None or not len(self.waiting):
            return False
        return self.hit(next(iter(self.waiting)))[1] > 0

    def _visible(self, now_ns: int) -> Iterable[Sequence]:
        """The waiting requests the next batch may take.

        With async scheduling an engine that ran up to now decided this batch when its last
        iteration began: requests queued since then are not in it (those behind them neither,
        so that admissions stay a prefix of the queue). An idle engine sees every request.
        """
        horizon = self._horizon(now_ns)
        if horizon is None or self.newest_ns <= horizon:
            return self.waiting
        decided: int = horizon
        return takewhile(lambda seq: seq.enqueued_ns <= decided, self.waiting)

    def update(self, run: Run, k: int) -> StepOutput:
        """Apply the first k iterations of a run (all of them when it ends; fewer on a cut)."""
        self.decided_ns = run.ends_ns[k - 2] if k > 1 else run.start_ns
        self.busy_until_ns = run.ends_ns[k - 1]
        out = StepOutput()
        if run.mixed_first:
            self._advance_mixed(run, out)
            if k > 1:
                self._advance_decodes(run, k - 1, 1, out)
        else:
            self._advance_decodes(run, k, 0, out)
        self._complete_finished(out)
        return out

    def cut(self, run: Run, now_ns: int) -> tuple[StepOutput | None, Run]:
        """End a run at an iteration boundary after now: the iterations done, and what remains.

        What remains is the iteration in flight alone, or with async scheduling that and the next
        one, whose batch was decided when the one in flight began (the same run when nothing
        changes). An arrival cuts a run for nothing sooner: it cannot join before then.
        """
        done = _ended_before(run.ends_ns, now_ns)
        keep = 2 if self.opts.async_scheduling else 1
        if done >= run.k - keep:
            return None, run
        if done == 0:  # the first iteration is in flight: keep it (and the next)
            return None, Run(run.plan, run.start_ns, run.times_ns[:keep], run.decodes)
        out = self.update(run, done)
        for seq in run.decodes:  # KV for the decode iterations kept (run_length made room)
            self._reserve(seq, seq.computed + keep)
        inflight = BatchPlan()
        inflight.decodes = run.decodes
        return out, Run(inflight, run.ends_ns[done - 1], run.times_ns[done:done + keep])

    # ---- KV blocks: the one place they are allocated, shared and freed ----------------------
    def _reserve(self, seq: Sequence, tokens: int) -> int | None:
        """Grow a sequence's blocks to hold `tokens` tokens: the blocks added, or None when the pool lacks them."""
        need = blocks_for(tokens, self.opts.block_size) - seq.blocks
        if need <= 0:
            return 0
        if self.cache is not None and not self.cache.make_room(need):  # evict cached blocks nobody holds
            return None
        if not self.pool.allocate(need):
            return None
        seq.blocks += need
        return need

    def _free(self, seq: Sequence) -> None:
        """Give back a sequence's blocks: private ones to the pool, its computed full blocks to the prefix cache."""
        cache = self.cache
        if cache is not None and seq.keys:
            self._publish(seq)
            cache.release(seq.keys[:seq.shared // seq.seg], seq.seg)
        self.pool.release(seq.blocks - seq.shared)
        seq.blocks = seq.shared = 0

    def _publish(self, seq: Sequence) -> None:
        """Offer the sequence's computed full segments that the trace identifies to the prefix cache."""
        keys, seg = seq.keys, seq.seg
        assert self.cache is not None and keys is not None
        upto = min(seq.computed // (seg * self.opts.block_size), len(keys), seq.blocks // seg)
        done = seq.shared // seg
        if upto > done:
            self.cache.publish(keys[done:upto], seg)
            seq.shared = upto * seg

    def block_imbalance(self) -> int:
        """Blocks in use minus the blocks sequences hold (private ones, shared ones once): 0 unless a bug.

        With the prefix cache's own check (free >= evictable) this is the conservation law
        free + evictable + used = total, counted from the sequences rather than from the pool.
        """
        holders = self.running + list(self.handed.values()) + [seq for seq, _ in self.incoming.values()] + \
            [seq for _, seq in self.arrived]
        held = sum(s.blocks - s.shared for s in holders)
        if self.cache is not None:
            self.cache.check()
            shared = {key: s.seg for s in holders if s.shared and s.keys for key in s.keys[:s.shared // s.seg]}
            if shared.keys() != self.cache.refs.keys():
                return -1 - len(shared.keys() ^ self.cache.refs.keys())
            held += sum(shared.values())
        return self.pool.used - held

    # ---- what the scheduler may ask (scheduler.CacheView) ------------------------------------
    def freeable(self, seq: Sequence) -> int:
        """Blocks preempting this running sequence gives back: private ones and shared ones only it holds."""
        assert self.cache is not None
        if not seq.shared or seq.keys is None:
            return seq.blocks
        return seq.blocks - seq.shared + self.cache.held_alone(seq.keys[:seq.shared // seq.seg], seq.seg)

    def hit(self, seq: Sequence) -> tuple[int, int]:
        """(cached blocks this waiting sequence would start with, of them blocks taken from the pool:
        evictable ones, and fresh ones for segments loaded from host memory)."""
        cache = self.cache
        assert cache is not None
        keys = seq.keys
        if keys is None:
            req = seq.req
            tokens = identified_tokens(len(req.prefix_hashes), req.prefix_block_tokens, req.input_tokens,
                                       req.output_tokens) if req.prefix_hashes else 0
            keys, seq.seg = segment_keys(req.prefix_hashes, req.prefix_block_tokens, self.opts.block_size, tokens)
            seq.keys = keys
        if not keys:
            return 0, 0
        version, hit, taken = seq.hit_memo
        if version != cache.version:  # a queue head that cannot be admitted is looked up once per cache change
            limit = (seq.prompt_target - 1) // (seq.seg * self.opts.block_size)  # >= 1 token left to prefill
            hit, evictable, loaded = cache.lookup(keys, limit)
            taken = evictable + loaded
            seq.hit_memo = (cache.version, hit, taken)
        return hit * seq.seg, taken * seq.seg

    # ---- committing a plan -------------------------------------------------------------------
    def _commit(self, plan: BatchPlan, now_ns: int) -> None:
        """Carry out the scheduler's decision: preempt, admit, allocate KV blocks."""
        for seq in plan.preempted:
            self.running.remove(seq)
            self._free(seq)
            seq.preempt()
            self.waiting.push_front(seq)
            self.counters.preemptions += 1
        offloaded: list[tuple[int, int]] = []
        for seq, hit in plan.hits:  # before any allocation below can evict them
            assert self.cache is not None and seq.keys is not None
            offloaded += [(key, seq.seg) for key in self.cache.acquire(seq.keys[:hit // seq.seg], seq.seg)]
            seq.blocks = seq.shared = hit
            seq.computed = hit * self.opts.block_size
        if offloaded:  # host-memory hits come back into fresh blocks, over PCIe in this iteration
            assert self.cache is not None
            plan.loaded_blocks = self.cache.load(offloaded)
            self.counters.host_loaded_blocks += plan.loaded_blocks
        c = self.counters
        for seq in plan.admitted:
            self.waiting.pop()
            self.running.append(seq)
            if seq.scheduled_ns is None:
                seq.scheduled_ns = now_ns
            if seq.cached_tokens is None:
                seq.cached_tokens = seq.computed
                c.prompt_tokens += seq.prompt_target
                c.cached_prompt_tokens += seq.computed
        for seq, tokens in plan.new_blocks:
            if self._reserve(seq, tokens) is None:  # the plan was made against this pool: a bug
                raise AssertionError(f"plan needs KV for {tokens} tokens of {seq.req.id}, {self.pool.free} blocks free")

    def _size_tail(self, plan: BatchPlan) -> None:
        """The decode iterations that may follow this mixed iteration: contexts and how many fit."""
        after = {id(s): s.computed + n for s, n in plan.chunks}
        ctx = [after.get(id(s), s.computed + 1) for s in self.running]
        remaining = min(s.remaining_output for s in self.running) - 1
        held = sum(s.blocks for s in self.running)
        k = decode_tail_length(ctx, held, self.pool.free, self.opts.block_size, remaining)
        if k:
            plan.tail_ctx, plan.tail_k, plan.tail_decodes = tuple(ctx), k, list(self.running)

    # ---- applying finished iterations ------------------------------------------------------
    def _record(self, out: StepOutput, start_ns: int, end_ns: int, iterations: int, batch: int,
                prefill_tokens: int, decode_seqs: int) -> None:
        decode_tokens = decode_seqs * iterations
        c = self.counters
        c.busy_ns += end_ns - start_ns
        c.iterations += iterations
        c.prefill_tokens += prefill_tokens
        c.decode_tokens += decode_tokens
        c.batch_size_sum += batch * iterations
        c.busy_until_ns = end_ns
        out.iterations.append(IterationRecord(start_ns, end_ns, iterations, batch, prefill_tokens, decode_tokens,
                                              self.pool.used, len(self.waiting)))

    def _advance_decodes(self, run: Run, j: int, offset: int, out: StepOutput) -> None:
        """Apply j decode iterations of a run, starting after its first `offset`."""
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
            # Most decode iterations fill no new block: test before calling (1 call in ~16, -4% calls of a run).
            if -(-seq.computed // bs) > seq.blocks and self._reserve(seq, seq.computed) is None:
                raise AssertionError(f"decode run of {seq.req.id} outgrew the KV pool")  # run_length made room
        self.itl.add_many(gaps)
        if j > 1:
            self.itl.add_many(run.times_ns[offset + 1:offset + j], count=len(seqs))
        start = ends[offset - 1] if offset else run.start_ns
        self._record(out, start, end_j, j, len(seqs), 0, len(seqs))

    def _advance_mixed(self, run: Run, out: StepOutput) -> None:
        """Apply one iteration of prefill chunks and decodes."""
        end = run.ends_ns[0]
        gaps: list[int] = []
        plan = run.plan
        publish = self.cache is not None
        for seq, n in plan.chunks:
            seq.computed += n
            if publish and seq.keys:  # full prompt blocks are shared as soon as they are computed (vLLM V1)
                self._publish(seq)
            if seq.computed >= seq.prompt_target:  # the prompt is done: it samples a token
                seq.generated += 1
                if seq.first_token_ns is None:
                    seq.first_token_ns = end
                    out.first_tokens.append((seq, end))
                else:
                    gaps.append(end - seq.last_token_ns)
                seq.last_token_ns = end
        for seq in plan.decodes:  # running decodes already have their first token
            seq.computed += 1
            seq.generated += 1
            gaps.append(end - seq.last_token_ns)
            seq.last_token_ns = end
        if gaps:
            self.itl.add_many(gaps)
        self._record(out, run.start_ns, end, 1, len(plan.decodes) + len(plan.chunks), sum(n for _, n in plan.chunks),
                     len(plan.decodes))

    def _complete_finished(self, out: StepOutput) -> None:
        if self.prefill_only:
            self._hand_off(out)
        done = [s for s in self.running if s.generated >= s.req.output_tokens]
        if not done:
            return
        self.running = [s for s in self.running if s.generated < s.req.output_tokens]
        for seq in done:
            self.committed_tokens -= seq.req.input_tokens + seq.req.output_tokens
            self._free(seq)
        out.completed = done


def _ended_before(ends_ns: list[int], now_ns: int) -> int:
    """How many iterations ended strictly before now (ends are sorted)."""
    return bisect.bisect_left(ends_ns, now_ns)
