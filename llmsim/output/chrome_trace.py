"""Streams the run as a Chrome Trace Event Format file (trace.json) for Perfetto / chrome://tracing.

One process per node, one thread per replica; a complete slice per run of iterations; request
lifetimes as async slices; model loads and environment changes as slices or instant events.
"""

from __future__ import annotations

from pathlib import Path
from typing import IO, Any

import orjson

from llmsim.output.events import (
    EnvironmentChanged, IterationRun, ModelLoadFinished, ModelUnloaded, RequestCompleted, RequestFailed,
    RequestPreempted, RequestRouted,
)

DETAIL_LEVELS = ("off", "requests", "iterations")
ROUTER_PID = 0


def _us(t_ns: int) -> float:
    return t_ns / 1000.0


class ChromeTraceWriter:
    """A sink writing trace events as they come; `close` ends the JSON array validly."""

    def __init__(self, path: Path, detail: str = "iterations") -> None:
        self._file: IO[bytes] = open(path, "wb")
        self._file.write(b'{"displayTimeUnit":"ms","traceEvents":[\n')
        self._first = True
        self._detail = detail
        self._tids: dict[str, int] = {}
        self._pids: set[int] = set()
        self._buf: list[bytes] = []
        self._meta(ROUTER_PID, 0, "process_name", "router / cluster")
        handlers: dict[type, Any] = {
            RequestCompleted: self._request, RequestFailed: self._failed,
            ModelLoadFinished: self._load, ModelUnloaded: self._unload,
            EnvironmentChanged: self._env_change, RequestPreempted: self._preempt,
        }
        if detail == "iterations":
            handlers[IterationRun] = self._iteration
            handlers[RequestRouted] = self._routed
        self._handlers = handlers

    def __call__(self, event: object) -> None:
        handler = self._handlers.get(type(event))
        if handler is not None:
            handler(event)

    def _write(self, obj: dict[str, Any]) -> None:
        self._buf.append(orjson.dumps(obj))
        if len(self._buf) >= 4096:
            self.flush()

    def _meta(self, pid: int, tid: int, name: str, value: str) -> None:
        self._write({"ph": "M", "pid": pid, "tid": tid, "name": name, "args": {"name": value}})

    def _process(self, node: int) -> int:
        if node not in self._pids:
            self._pids.add(node)
            self._meta(node, 0, "process_name", f"node {node}")
            self._meta(node, 0, "thread_name", "node events")
        return node

    def _thread(self, node: int, replica: str) -> tuple[int, int]:
        self._process(node)
        tid = self._tids.get(replica)
        if tid is None:
            tid = self._tids[replica] = len(self._tids) + 1
            self._meta(node, tid, "thread_name", f"GPU {replica}")
        return node, tid

    def _iteration(self, e: IterationRun) -> None:
        pid, tid = self._thread(e.node, e.replica)
        name = "prefill+decode" if e.prefill_tokens and e.decode_tokens else ("prefill" if e.prefill_tokens else "decode")
        self._write({"ph": "X", "pid": pid, "tid": tid, "ts": _us(e.start_ns), "dur": _us(e.t_ns - e.start_ns),
                     "name": name, "cat": "iteration",
                     "args": {"iterations": e.iterations, "batch_size": e.batch_size,
                              "prefill_tokens": e.prefill_tokens, "decode_tokens": e.decode_tokens,
                              "kv_used_blocks": e.kv_used_blocks, "kv_total_blocks": e.kv_total_blocks}})
        kv = e.kv_used_blocks / e.kv_total_blocks if e.kv_total_blocks else 0.0
        self._write({"ph": "C", "pid": pid, "tid": tid, "ts": _us(e.t_ns), "name": f"{e.replica} load",
                     "args": {"kv_use": round(kv, 4), "waiting": e.waiting}})

    def _routed(self, e: RequestRouted) -> None:
        self._write({"ph": "i", "s": "t", "pid": ROUTER_PID, "tid": 0, "ts": _us(e.t_ns), "name": "route",
                     "cat": "routing", "args": {"request": e.request_id, "replica": e.replica}})

    def _request(self, e: RequestCompleted) -> None:
        pid, _ = self._thread(e.node, e.replica)
        common = {"cat": "request", "name": f"request {e.request_id}", "id": e.request_id, "pid": pid, "tid": 0}
        self._write({**common, "ph": "b", "ts": _us(e.arrival_ns),
                     "args": {"input_tokens": e.input_tokens, "output_tokens": e.output_tokens,
                              "replica": e.replica, "preemptions": e.preemptions}})
        self._write({**common, "ph": "e", "ts": _us(e.t_ns)})

    def _failed(self, e: RequestFailed) -> None:
        self._write({"ph": "i", "s": "g", "pid": ROUTER_PID, "tid": 0, "ts": _us(e.t_ns),
                     "name": f"failed {e.request_id}", "cat": "request", "args": {"reason": e.reason}})

    def _load(self, e: ModelLoadFinished) -> None:
        self._process(e.node)
        self._write({"ph": "X", "pid": e.node, "tid": 0, "ts": _us(e.start_ns), "dur": _us(e.t_ns - e.start_ns),
                     "name": f"load {e.model}", "cat": "model_load"})

    def _unload(self, e: ModelUnloaded) -> None:
        self._process(e.node)
        self._write({"ph": "i", "s": "p", "pid": e.node, "tid": 0, "ts": _us(e.t_ns), "name": f"unload {e.model}",
                     "cat": "model_load"})

    def _env_change(self, e: EnvironmentChanged) -> None:
        self._process(e.node)
        self._write({"ph": "i", "s": "p", "pid": e.node, "tid": 0, "ts": _us(e.t_ns),
                     "name": f"{'+' if e.amount > 0 else ''}{e.amount} {e.gpu_type}", "cat": "environment"})

    def _preempt(self, e: RequestPreempted) -> None:
        pid, tid = self._thread(e.node, e.replica)
        self._write({"ph": "i", "s": "t", "pid": pid, "tid": tid, "ts": _us(e.t_ns), "name": "preempt",
                     "cat": "preemption", "args": {"request": e.request_id}})

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
