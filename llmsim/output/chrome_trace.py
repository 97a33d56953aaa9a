"""Streams the run as a Chrome Trace Event Format file (trace.json) for Perfetto / chrome://tracing.

Layout: one process per node (a "node events" thread plus one thread per GPU replica) and one
"router / cluster" process. Per GPU thread: a complete slice per run of iterations (detail
`iterations`), counters for queue depth and KV use, instants for preemptions and request
completions. Request lifetimes are async slices (with nested queued / prefill / decode phases) on
their node's process, and a flow arrow links the router's routing instant to the completion instant
on the GPU thread that served the request (Perfetto binds flows to slices, not instants, so both
ends are zero-length complete slices). Detail levels:

- `off`: no file at all (the writer is not opened);
- `requests`: everything except per-iteration slices and counters;
- `auto` (the default): `iterations` for the first AUTO_ITERATION_RUNS runs of iterations, then
  `requests`, with an instant on the router thread where the GPU detail stops: small and
  medium runs show every batch, a 100k-request run still stays under ~200 MB;
- `iterations`: also one slice per run of iterations, and queue / KV counter samples whenever
  their value changes.
"""

from __future__ import annotations

from pathlib import Path
from typing import IO, Any

import orjson

from llmsim.output.events import (
    EnvironmentChanged, IterationRun, ModelLoadFinished, ModelLoadStarted, ModelUnloaded,
    ProvisionRefusedEvent, RequestCompleted, RequestFailed, RequestPreempted, RequestRouted,
)
from llmsim.output.sink import TypedSink

DETAIL_LEVELS = ("off", "requests", "auto", "iterations")
DEFAULT_DETAIL = "auto"
AUTO_ITERATION_RUNS = 100_000  # ~40 MB of slices and counters (~400 bytes per run of iterations)
ROUTER_PID = 0
ROUTER_TID = 1
SPARE_PID_BASE = 1_000_000
FLUSH_EVENTS = 4096  # buffered pieces (an entry, or one line of several) per write


def _us(t_ns: int) -> float:
    """Chrome traces count microseconds."""
    return t_ns / 1000.0


def _ts(t_ns: int) -> str:
    """`_us` as JSON text, written by orjson (~4x faster than a float's repr)."""
    return orjson.dumps(t_ns / 1000.0).decode()


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
    """Stable pid/tid numbering with metadata events written the first time each is seen."""

    def __init__(self, write: Any) -> None:
        self._write = write
        self._node_tids: dict[int, int] = {}
        self._gpu_tids: dict[str, tuple[int, int]] = {}
        self._next_tid = ROUTER_TID + 1
        self._meta(ROUTER_PID, ROUTER_TID, "process_name", "router / cluster")
        self._meta(ROUTER_PID, ROUTER_TID, "thread_name", "routing decisions")

    def _meta(self, pid: int, tid: int, name: str, value: str) -> None:
        self._write({"ph": "M", "pid": pid, "tid": tid, "name": name, "args": {"name": value}})

    def _new_tid(self) -> int:
        tid, self._next_tid = self._next_tid, self._next_tid + 1
        return tid

    def node(self, node: int) -> tuple[int, int]:
        """(pid, tid) of a node's own events thread."""
        pid = node if node > ROUTER_PID else SPARE_PID_BASE + node  # pid 0 is the router
        tid = self._node_tids.get(node)
        if tid is None:
            tid = self._node_tids[node] = self._new_tid()
            self._meta(pid, tid, "process_name", f"node {node}")
            self._meta(pid, tid, "thread_name", "node events")
            self._write({"ph": "M", "pid": pid, "tid": tid, "name": "thread_sort_index", "args": {"sort_index": 0}})
        return pid, tid

    def gpu(self, node: int, replica: str) -> tuple[int, int]:
        """(pid, tid) of a GPU replica's thread."""
        found = self._gpu_tids.get(replica)
        if found is None:
            pid, _ = self.node(node)
            tid = self._new_tid()
            found = self._gpu_tids[replica] = (pid, tid)
            self._meta(pid, tid, "thread_name", f"GPU {replica}")
            self._write({"ph": "M", "pid": pid, "tid": tid, "name": "thread_sort_index", "args": {"sort_index": tid}})
        return found


class _GpuTrack:
    """A GPU thread's ids, its counter names and the counter values last written."""

    __slots__ = ("pid", "tid", "queue_name", "kv_name", "waiting", "kv_pct")

    def __init__(self, pid: int, tid: int, replica: str) -> None:
        self.pid, self.tid = pid, tid
        self.queue_name, self.kv_name = f"{replica} queue", f"{replica} KV"
        self.waiting: int | None = None
        self.kv_pct: float | None = None


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
        self._next_flow = 0
        self._next_load = 0
        self._iterations_left = AUTO_ITERATION_RUNS
        self._iterations_end_ns = 0
        self._gpu_tracks: dict[str, _GpuTrack] = {}
        self._literals = _Literals()
        self.handlers = self._make_handlers(detail)

    def _make_handlers(self, detail: str) -> dict[type, Any]:
        handlers: dict[type, Any] = {
            RequestRouted: self._routed, RequestCompleted: self._completed, RequestFailed: self._failed,
            RequestPreempted: self._preempted, ModelLoadStarted: self._load_started,
            ModelLoadFinished: self._load_finished, ModelUnloaded: self._unloaded,
            ProvisionRefusedEvent: self._refused, EnvironmentChanged: self._env_change,
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
        track = self._gpu_tracks.get(e.replica)
        if track is None:
            track = self._gpu_tracks[e.replica] = _GpuTrack(*self._layout.gpu(e.node, e.replica), e.replica)
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
        pid, tid = self._layout.gpu(e.node, e.replica)
        self._instant(pid, tid, e.t_ns, "preempt", "preemption",
                      args={"request": e.request_id, "generated_tokens": e.generated_tokens})

    # ---- requests ------------------------------------------------------------------------
    def _routed(self, e: RequestRouted) -> None:
        self._next_flow += 1
        self._routes[e.request_id] = self._next_flow  # a re-routed request keeps only its last arrow
        self._write({"ph": "X", "dur": 0, "pid": ROUTER_PID, "tid": ROUTER_TID, "ts": _us(e.t_ns), "name": "route",
                     "cat": "routing", "bind_id": _flow_id(self._next_flow), "flow_out": True,
                     "args": {"request": e.request_id, "node": e.node, "replica": e.replica, "policy": e.policy}})

    def _completed(self, e: RequestCompleted) -> None:
        """The request's async slice with its queued / prefill / decode phases, and the flow's end.

        Written as JSON text by one f-string (every string in it a number or an orjson-escaped
        literal): 1.7x faster than ten dicts through orjson, 2.4x once compiled. (Iteration
        slices, a single dict with counters, are not: orjson wins there.)
        """
        pid, tid = self._layout.gpu(e.node, e.replica)
        flow = self._routes.pop(e.request_id, 0)
        lit, rid = self._literals, _json(e.request_id)
        title = '"request ' + rid[1:]  # JSON escaping is per character: the id's literal, prefixed
        arrived, scheduled, first, done = _ts(e.arrival_ns), _ts(e.scheduled_ns), _ts(e.first_token_ns), _ts(e.t_ns)
        c = f'{{"cat":"request","id":{rid},"pid":{pid},"ph":'
        bind = f'"bind_id":"{_flow_id(flow)}","flow_in":true,' if flow else ""
        self._write_text(
            f'{c}"b","name":{title},"ts":{arrived},"args":{{"model":{lit[e.model]},"replica":{lit[e.replica]},'
            f'"input_tokens":{e.input_tokens},"output_tokens":{e.output_tokens},"preemptions":{e.preemptions}}}}},'
            f'{c}"b","name":"queued","ts":{arrived}}},{c}"e","name":"queued","ts":{scheduled}}},'
            f'{c}"b","name":"prefill","ts":{scheduled}}},{c}"e","name":"prefill","ts":{first}}},'
            f'{c}"b","name":"decode","ts":{first}}},{c}"e","name":"decode","ts":{done}}},'
            f'{c}"e","name":{title},"ts":{done}}},'
            f'{{"ph":"X","dur":0,"pid":{pid},"tid":{tid},"ts":{done},"name":"done","cat":"request",{bind}'
            f'"args":{{"request":{rid}}}}}')

    def _failed(self, e: RequestFailed) -> None:
        self._routes.pop(e.request_id, None)
        if e.node is not None and e.replica is not None:
            pid, tid = self._layout.gpu(e.node, e.replica)
        else:
            pid, tid = ROUTER_PID, ROUTER_TID
        items = self._lifetime(pid, e.request_id, e.arrival_ns, e.t_ns, (),
                               {"model": e.model, "outcome": "failed", "reason": e.reason})
        items.append(self._instant_entry(pid, tid, e.t_ns, "failed", "request",
                                         args={"request": e.request_id, "reason": e.reason}))
        self._write_group(items)

    def _lifetime(self, pid: int, request_id: str, begin_ns: int, end_ns: int,
                  phases: tuple[tuple[str, int, int], ...], args: dict[str, Any]) -> list[dict[str, Any]]:
        """An async slice for the request with its phases nested inside (same id, same track)."""
        common = {"cat": "request", "id": request_id, "pid": pid}
        title = f"request {request_id}"
        items = [{**common, "ph": "b", "name": title, "ts": _us(begin_ns), "args": args}]
        for name, start_ns, stop_ns in phases:
            items.append({**common, "ph": "b", "name": name, "ts": _us(start_ns)})
            items.append({**common, "ph": "e", "name": name, "ts": _us(stop_ns)})
        items.append({**common, "ph": "e", "name": title, "ts": _us(end_ns)})
        return items

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
        pid, tid = self._layout.node(e.node)
        sign = "+" if e.amount > 0 else ""
        self._instant(pid, tid, e.t_ns, f"{sign}{e.amount} {e.gpu_type}", "environment",
                      args={"gpu_type": e.gpu_type, "amount": e.amount})

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
