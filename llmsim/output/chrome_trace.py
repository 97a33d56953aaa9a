"""Streams the run as a Chrome Trace Event Format file (trace.json) for Perfetto / chrome://tracing.

Layout: a "router / cluster" process (routing decisions, and a global marker at every environment
change), one process per node (its "node events" thread: loads, unloads, GPU changes) and one
process per GPU replica, named "node N · GPU <replica>" and sorted after its node. A replica's
process holds an "iterations" thread (a complete slice per run of iterations at detail
`iterations`, instants for preemptions, failures and the replica's removal), its queue and KV
counters (which drop to zero when the replica is removed), and its requests: each completed
request is a complete slice `request <id>` from its admission to its last token, with nested
`prefill` and `decode`, on one of a few "slot k" threads. A slot holds one request at a time and
a request takes the lowest-ended free slot, so the number of slot threads is the replica's peak
number of requests in flight (at most its batch slots, `max_num_seqs`, plus preempted ones), not
the number of requests. Time spent queued is the flow arrow from the router's routing decision
to the request's slice (and `queued_ms` in its args). Detail levels:

- `off`: no file at all (the writer is not opened);
- `requests`: everything except per-iteration slices and counters;
- `auto` (the default): `iterations` for the first AUTO_ITERATION_RUNS runs of iterations, then
  `requests`, with an instant on the router thread where the GPU detail stops: small and
  medium runs show every batch, a 100k-request run still stays near 120 MB;
- `iterations`: also one slice per run of iterations, and queue / KV counter samples whenever
  their value changes.
"""

from __future__ import annotations

import bisect
from pathlib import Path
from typing import IO, Any

import orjson

from llmsim.output.events import (
    EnvironmentChanged, IterationRun, ModelLoadFinished, ModelLoadStarted, ModelUnloaded,
    ProvisionRefusedEvent, ReplicaRemoved, RequestCompleted, RequestFailed, RequestPreempted, RequestRouted,
    TransferFinished,
)
from llmsim.output.sink import TypedSink

DETAIL_LEVELS = ("off", "requests", "auto", "iterations")
DEFAULT_DETAIL = "auto"
AUTO_ITERATION_RUNS = 100_000  # ~40 MB of slices and counters (~400 bytes per run of iterations)
ROUTER_PID = 0
ROUTER_TID = 1
_MAX_TID = 1 << 62  # above every tid: bisects (end, tid) pairs by end alone
FLUSH_EVENTS = 4096  # buffered pieces (an entry, or one line of several) per write


def _us(t_ns: int) -> float:
    """Chrome traces count microseconds."""
    return t_ns / 1000.0


def _ts(t_ns: int) -> str:
    """`_us` as JSON text, written by orjson (~4x faster than a float's repr)."""
    return orjson.dumps(t_ns / 1000.0).decode()


def _ms(t_ns: int) -> str:
    """Milliseconds as JSON text (request args)."""
    return orjson.dumps(t_ns / 1e6).decode()


def _flow_id(n: int) -> str:
    """Perfetto reads v2 flow `bind_id`s as hexadecimal numbers."""
    return f"0x{n:x}"


def _json(text: str) -> str:
    """A string as a JSON literal (quoted and escaped by orjson)."""
    return orjson.dumps(text).decode()


class _Literals(dict[str, str]):
    """JSON literals of the few strings that recur (replica, model and policy names), made once each."""

    def __missing__(self, text: str) -> str:
        literal = self[text] = _json(text)
        return literal


def iteration_name(prefill_tokens: int, decode_tokens: int) -> str:
    """Slice name of a run of iterations from what it computed."""
    if prefill_tokens and decode_tokens:
        return "prefill+decode"
    return "prefill" if prefill_tokens else "decode"


class _Layout:
    """pids and tids numbered in order of first appearance, with metadata written the first time each is seen.

    Node ids can be any integers, so pids are small numbers of llmsim's own: each node, then each
    replica, gets the next one; `process_sort_index` keeps every replica right after its node.
    """

    def __init__(self, write: Any) -> None:
        self._write = write
        self._nodes: dict[int, tuple[int, int]] = {}  # node -> (pid, tid of its events thread)
        self._replicas: dict[str, _GpuTrack] = {}
        self._node_replicas: dict[int, int] = {}  # node -> replicas seen
        self._next_id = ROUTER_TID + 1
        self._meta(ROUTER_PID, ROUTER_TID, "process_name", "router / cluster")
        self._meta(ROUTER_PID, ROUTER_TID, "thread_name", "routing decisions")

    def _meta(self, pid: int, tid: int, name: str, value: str) -> None:
        self._write({"ph": "M", "pid": pid, "tid": tid, "name": name, "args": {"name": value}})

    def _sort(self, pid: int, tid: int, name: str, index: int) -> None:
        self._write({"ph": "M", "pid": pid, "tid": tid, "name": name, "args": {"sort_index": index}})

    def _new_id(self) -> int:
        value, self._next_id = self._next_id, self._next_id + 1
        return value

    def node(self, node: int) -> tuple[int, int]:
        """(pid, tid) of a node's own events thread."""
        found = self._nodes.get(node)
        if found is None:
            pid = self._new_id()
            found = self._nodes[node] = (pid, pid)
            self._meta(pid, pid, "process_name", f"node {node}")
            self._sort(pid, pid, "process_sort_index", pid * 10_000)
            self._meta(pid, pid, "thread_name", "node events")
        return found

    def gpu(self, node: int, replica: str) -> _GpuTrack:
        """A GPU replica's process: its iterations thread, counters and request slots."""
        track = self._replicas.get(replica)
        if track is None:
            node_pid, _ = self.node(node)
            pid = self._new_id()
            track = self._replicas[replica] = _GpuTrack(pid, pid, replica)
            rank = self._node_replicas[node] = self._node_replicas.get(node, 0) + 1
            self._meta(pid, pid, "process_name", f"node {node} · GPU {replica}")
            self._sort(pid, pid, "process_sort_index", node_pid * 10_000 + rank)
            self._meta(pid, pid, "thread_name", f"GPU {replica}")
            self._sort(pid, pid, "thread_sort_index", 0)
        return track

    def slot_tid(self, track: _GpuTrack, start_ns: int, end_ns: int) -> int:
        """The slot thread a request occupying [start, end] goes on (requests arrive in order of end).

        Every slot's last request ended no later than this one ends, so a slot whose last request
        ended by `start_ns` is free. The free slot that became free last is taken (best fit: slots
        free since long stay free for requests that started long ago), else a new slot opens.
        `free_slots` stays sorted by end: the taken slot's new end is the latest of all.
        """
        slots = track.free_slots
        i = bisect.bisect_right(slots, (start_ns, _MAX_TID)) - 1
        if i >= 0:
            tid = slots.pop(i)[1]
        else:
            tid = self._new_id()
            track.slots += 1
            self._meta(track.pid, tid, "thread_name", f"slot {track.slots - 1}")
            self._sort(track.pid, tid, "thread_sort_index", track.slots)
        slots.append((end_ns, tid))
        return tid


class _GpuTrack:
    """A GPU replica's process: ids, counter names, the counter values last written, its request slots."""

    __slots__ = ("pid", "tid", "queue_name", "kv_name", "waiting", "kv_pct", "free_slots", "slots")

    def __init__(self, pid: int, tid: int, replica: str) -> None:
        self.pid, self.tid = pid, tid
        self.queue_name, self.kv_name = f"{replica} queue", f"{replica} KV"
        self.waiting: int | None = None
        self.kv_pct: float | None = None
        self.free_slots: list[tuple[int, int]] = []  # (end of the slot's last request, tid), sorted
        self.slots = 0


class ChromeTraceWriter(TypedSink):
    """A sink writing trace events as they come; `close` ends the JSON document validly."""

    def __init__(self, path: Path, detail: str = DEFAULT_DETAIL) -> None:
        if detail not in DETAIL_LEVELS:
            raise ValueError(f"trace detail {detail!r} is not one of {', '.join(DETAIL_LEVELS)}")
        self._file: IO[bytes] = open(path, "wb")
        self._file.write(b'{"displayTimeUnit":"ms","traceEvents":[\n')
        self._first = True
        self._buf: list[bytes] = []
        self._layout = _Layout(self._write)
        self._routes: dict[str, int] = {}  # request id -> flow id of its last routing decision (in flight)
        self._kv_flows: dict[str, tuple[int, int]] = {}  # disaggregation: request id -> (KV arrival ns, flow id)
        self._next_flow = 0
        self._next_load = 0
        self._iterations_left = AUTO_ITERATION_RUNS
        self._iterations_end_ns = 0
        self._literals = _Literals()
        self.handlers = self._make_handlers(detail)

    def _make_handlers(self, detail: str) -> dict[type, Any]:
        handlers: dict[type, Any] = {
            RequestRouted: self._routed, RequestCompleted: self._completed, RequestFailed: self._failed,
            RequestPreempted: self._preempted, ModelLoadStarted: self._load_started,
            ModelLoadFinished: self._load_finished, ModelUnloaded: self._unloaded,
            ProvisionRefusedEvent: self._refused, EnvironmentChanged: self._env_change,
            ReplicaRemoved: self._removed, TransferFinished: self._transferred,
        }
        if detail == "iterations":
            handlers[IterationRun] = self._iteration
        elif detail == "auto":
            handlers[IterationRun] = self._iteration_within_budget
        return handlers

    def _iteration_within_budget(self, e: IterationRun) -> None:
        """`auto` detail: iteration slices until the budget is spent, then a marker and no more."""
        left = self._iterations_left
        if left > 0:
            self._iteration(e)
            self._iterations_left = left - 1
            self._iterations_end_ns = max(self._iterations_end_ns, e.t_ns)
        elif left == 0:  # marked after every slice shown (runs are written when they end, not in order)
            self._iterations_left = -1
            self._instant(ROUTER_PID, ROUTER_TID, self._iterations_end_ns, "iteration detail ends", "trace",
                          args={"reason": f"trace detail auto: first {AUTO_ITERATION_RUNS} runs of iterations shown",
                                "all": "replay with --trace-detail iterations"})

    def _write(self, obj: dict[str, Any]) -> None:
        self._buf.append(orjson.dumps(obj))
        if len(self._buf) >= FLUSH_EVENTS:
            self.flush()

    def _write_text(self, entries: str) -> None:
        """Entries already written as JSON text (comma-separated, on one line)."""
        self._buf.append(entries.encode())
        if len(self._buf) >= FLUSH_EVENTS:
            self.flush()

    def _write_group(self, objs: list[dict[str, Any]]) -> None:
        """Several entries (never none) on one line: one orjson call for all is ~3x faster than one each."""
        self._buf.append(orjson.dumps(objs)[1:-1])
        if len(self._buf) >= FLUSH_EVENTS:
            self.flush()

    @staticmethod
    def _instant_entry(pid: int, tid: int, t_ns: int, name: str, cat: str, **extra: Any) -> dict[str, Any]:
        return {"ph": "i", "s": "t", "pid": pid, "tid": tid, "ts": _us(t_ns), "name": name, "cat": cat, **extra}

    def _instant(self, pid: int, tid: int, t_ns: int, name: str, cat: str, **extra: Any) -> None:
        self._write(self._instant_entry(pid, tid, t_ns, name, cat, **extra))

    # ---- GPU work ------------------------------------------------------------------------
    def _iteration(self, e: IterationRun) -> None:
        """A slice for the run; queue and KV counter samples only when their value changes.

        A GPU's runs are emitted in time order, so skipping repeated values loses nothing:
        counters are step functions.
        """
        track = self._layout.gpu(e.node, e.replica)
        pid = track.pid
        items: list[dict[str, Any]] = [
            {"ph": "X", "pid": pid, "tid": track.tid, "ts": _us(e.start_ns), "dur": _us(e.t_ns - e.start_ns),
             "name": iteration_name(e.prefill_tokens, e.decode_tokens), "cat": "iteration",
             "args": {"iterations": e.iterations, "batch_size": e.batch_size, "prefill_tokens": e.prefill_tokens,
                      "decode_tokens": e.decode_tokens, "kv_used_blocks": e.kv_used_blocks,
                      "kv_total_blocks": e.kv_total_blocks, "waiting": e.waiting}}]
        ts = _us(e.t_ns)
        if e.waiting != track.waiting:
            track.waiting = e.waiting
            items.append({"ph": "C", "pid": pid, "ts": ts, "name": track.queue_name, "args": {"waiting": e.waiting}})
        kv_pct = round(100.0 * e.kv_used_blocks / e.kv_total_blocks if e.kv_total_blocks else 0.0, 2)
        if kv_pct != track.kv_pct:
            track.kv_pct = kv_pct
            items.append({"ph": "C", "pid": pid, "ts": ts, "name": track.kv_name, "args": {"used_pct": kv_pct}})
        self._write_group(items)

    def _preempted(self, e: RequestPreempted) -> None:
        track = self._layout.gpu(e.node, e.replica)
        self._instant(track.pid, track.tid, e.t_ns, "preempt", "preemption",
                      args={"request": e.request_id, "generated_tokens": e.generated_tokens})

    # ---- requests ------------------------------------------------------------------------
    def _routed(self, e: RequestRouted) -> None:
        self._next_flow += 1
        self._routes[e.request_id] = self._next_flow  # a re-routed request keeps only its last arrow
        self._write({"ph": "X", "dur": 0, "pid": ROUTER_PID, "tid": ROUTER_TID, "ts": _us(e.t_ns), "name": "route",
                     "cat": "routing", "bind_id": _flow_id(self._next_flow), "flow_out": True,
                     "args": {"request": e.request_id, "node": e.node, "replica": e.replica, "policy": e.policy}})

    def _completed(self, e: RequestCompleted) -> None:
        """The request's slice on a slot of its replica (prefill and decode inside); its routing flow ends at decode.

        The flow lands on `decode` (first token: always later than the routing decision) because
        Perfetto orders slices starting at one instant longest first, so a flow ending on a slice
        that starts when its zero-length route slice does would be read before it begins.

        Written as JSON text by one f-string (every string in it a number or an orjson-escaped
        literal): faster than three dicts through orjson, more so once compiled.
        """
        if self._kv_flows and e.request_id in self._kv_flows:
            return self._decoded(e)
        track = self._layout.gpu(e.node, e.replica)
        pid, tid = track.pid, self._layout.slot_tid(track, e.scheduled_ns, e.t_ns)
        flow = self._routes.pop(e.request_id, 0)
        lit, rid = self._literals, _json(e.request_id)
        title = '"request ' + rid[1:]  # JSON escaping is per character: the id's literal, prefixed
        scheduled, first = _ts(e.scheduled_ns), _ts(e.first_token_ns)
        bind = f',"bind_id":"{_flow_id(flow)}","flow_in":true' if flow else ""
        c = f'{{"ph":"X","cat":"request","pid":{pid},"tid":{tid},'
        self._write_text(
            f'{c}"ts":{scheduled},"dur":{_ts(e.t_ns - e.scheduled_ns)},"name":{title},"args":{{'
            f'"request":{rid},"model":{lit[e.model]},"replica":{lit[e.replica]},'
            f'"queued_ms":{_ms(e.scheduled_ns - e.arrival_ns)},"ttft_ms":{_ms(e.first_token_ns - e.arrival_ns)},'
            f'"input_tokens":{e.input_tokens},"output_tokens":{e.output_tokens},"preemptions":{e.preemptions}}}}},'
            f'{c}"ts":{scheduled},"dur":{_ts(e.first_token_ns - e.scheduled_ns)},"name":"prefill"}},'
            f'{c}"ts":{first},"dur":{_ts(e.t_ns - e.first_token_ns)},"name":"decode"{bind}}}')

    def _transferred(self, e: TransferFinished) -> None:
        """Disaggregation: the prefill replica's part of a request (prefill, then KV held until it arrived at
        the decode replica, with the transfer inside), and a flow arrow from the transfer to the decode slice."""
        track = self._layout.gpu(e.src_node, e.src_replica)
        pid, tid = track.pid, self._layout.slot_tid(track, e.scheduled_ns, e.t_ns)
        self._next_flow += 1
        self._kv_flows[e.request_id] = (e.t_ns, self._next_flow)
        start = e.t_ns - e.transfer_ns
        common = {"ph": "X", "cat": "request", "pid": pid, "tid": tid}
        self._write_group([
            {**common, "ts": _us(e.scheduled_ns), "dur": _us(e.t_ns - e.scheduled_ns), "name": f"request {e.request_id}",
             "args": {"request": e.request_id, "decode_replica": e.dst_replica}},
            {**common, "ts": _us(e.scheduled_ns), "dur": _us(e.first_token_ns - e.scheduled_ns), "name": "prefill"},
            {**common, "ts": _us(start), "dur": _us(e.transfer_ns), "name": "kv transfer",
             "args": {"to": e.dst_replica, "transfer_ms": e.transfer_ns / 1e6},
             "bind_id": _flow_id(self._next_flow), "flow_out": True},
        ])

    def _decoded(self, e: RequestCompleted) -> None:
        """The decode replica's part of a disaggregated request: from the KV's arrival to the last token."""
        arrived_ns, flow = self._kv_flows.pop(e.request_id)
        track = self._layout.gpu(e.node, e.replica)
        pid, tid = track.pid, self._layout.slot_tid(track, arrived_ns, e.t_ns)
        route = self._routes.pop(e.request_id, 0)
        common = {"ph": "X", "cat": "request", "pid": pid, "tid": tid, "ts": _us(arrived_ns),
                  "dur": _us(e.t_ns - arrived_ns)}
        decode: dict[str, Any] = {**common, "name": "decode"}
        if route:
            decode.update(bind_id=_flow_id(route), flow_in=True)
        self._write_group([
            {**common, "name": f"request {e.request_id}", "bind_id": _flow_id(flow), "flow_in": True,
             "args": {"request": e.request_id, "model": e.model, "replica": e.replica,
                      "ttft_ms": (e.first_token_ns - e.arrival_ns) / 1e6, "input_tokens": e.input_tokens,
                      "output_tokens": e.output_tokens, "preemptions": e.preemptions}},
            decode,
        ])

    def _failed(self, e: RequestFailed) -> None:
        """An instant where the request failed: on its replica when it had one, else on the router."""
        self._routes.pop(e.request_id, None)
        if e.node is not None and e.replica is not None:
            track = self._layout.gpu(e.node, e.replica)
            pid, tid = track.pid, track.tid
        else:
            pid, tid = ROUTER_PID, ROUTER_TID
        self._instant(pid, tid, e.t_ns, "failed", "request",
                      args={"request": e.request_id, "model": e.model, "reason": e.reason,
                            "waited_ms": (e.t_ns - e.arrival_ns) / 1e6})

    # ---- nodes and the environment -------------------------------------------------------
    def _load_started(self, e: ModelLoadStarted) -> None:
        pid, tid = self._layout.node(e.node)
        self._instant(pid, tid, e.t_ns, f"load {e.model} started", "model_load",
                      args={"replicas": e.replicas, "tp": e.tp, "load_s": e.load_s})

    def _load_finished(self, e: ModelLoadFinished) -> None:
        """Loads may overlap on one node, so each is an async slice of its own."""
        pid, tid = self._layout.node(e.node)
        self._next_load += 1
        common = {"cat": "model_load", "id": f"load-{self._next_load}", "pid": pid, "name": f"load {e.model}"}
        self._write({**common, "ph": "b", "ts": _us(e.start_ns), "args": {"model": e.model}})
        self._write({**common, "ph": "e", "ts": _us(e.t_ns)})
        self._instant(pid, tid, e.t_ns, f"load {e.model} finished", "model_load")

    def _unloaded(self, e: ModelUnloaded) -> None:
        pid, tid = self._layout.node(e.node)
        self._instant(pid, tid, e.t_ns, f"unload {e.model}", "model_load")

    def _refused(self, e: ProvisionRefusedEvent) -> None:
        pid, tid = self._layout.node(e.node)
        self._instant(pid, tid, e.t_ns, f"refused {e.model}", "model_load", args={"reason": e.reason})

    def _env_change(self, e: EnvironmentChanged) -> None:
        """An instant on the node, and a global marker (a line across every track) named for the change."""
        pid, tid = self._layout.node(e.node)
        name = f"{'+' if e.amount > 0 else ''}{e.amount} {e.gpu_type}"
        args = {"gpu_type": e.gpu_type, "amount": e.amount, "node": e.node}
        self._instant(pid, tid, e.t_ns, name, "environment", args=args)
        self._write({"ph": "i", "s": "g", "pid": ROUTER_PID, "tid": ROUTER_TID, "ts": _us(e.t_ns),
                     "name": f"environment: {name} on node {e.node}", "cat": "environment", "args": args})

    def _removed(self, e: ReplicaRemoved) -> None:
        """The replica's counters drop to zero (it holds nothing any more) and an instant marks its end."""
        track = self._layout.gpu(e.node, e.replica)
        items: list[dict[str, Any]] = [self._instant_entry(track.pid, track.tid, e.t_ns, "replica removed",
                                                           "environment", args={"model": e.model})]
        ts = _us(e.t_ns)
        if track.waiting is not None and track.waiting != 0:
            track.waiting = 0
            items.append({"ph": "C", "pid": track.pid, "ts": ts, "name": track.queue_name, "args": {"waiting": 0}})
        if track.kv_pct is not None and track.kv_pct != 0.0:
            track.kv_pct = 0.0
            items.append({"ph": "C", "pid": track.pid, "ts": ts, "name": track.kv_name, "args": {"used_pct": 0.0}})
        self._write_group(items)

    # ---- file ----------------------------------------------------------------------------
    def flush(self) -> None:
        """Write buffered events, comma-separated."""
        if not self._buf:
            return
        body = b",\n".join(self._buf)
        self._file.write(body if self._first else b",\n" + body)
        self._first = False
        self._buf.clear()

    def close(self) -> None:
        """Flush and end the JSON document."""
        self.flush()
        self._file.write(b"\n]}\n")
        self._file.close()
