"""trace.json of real replays: named processes and threads, nesting, async and flow pairing, detail levels."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from llmsim.options import ReplayOptions
from llmsim.output import chrome_trace
from llmsim.output.chrome_trace import DEFAULT_DETAIL, DETAIL_LEVELS, ChromeTraceWriter
from llmsim.output.events import IterationRun

from .conftest import raw_events, replay
from .trace_checks import async_violations, flow_pairs, nesting_violations


def _trace(run: Path) -> list[dict[str, Any]]:
    return orjson.loads((run / "trace.json").read_bytes())["traceEvents"]


def test_slices_nest_on_every_thread(any_run: Path) -> None:
    """No two complete slices on one thread overlap partially."""
    assert nesting_violations(_trace(any_run)) == []


def test_every_async_begin_has_its_end(any_run: Path) -> None:
    """Request lifetimes, their phases and model loads all close, properly nested."""
    assert async_violations(_trace(any_run)) == []


def _request_slices(trace: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in trace if e["ph"] == "X" and e.get("cat") == "request" and e["name"].startswith("request ")]


def test_one_lifetime_and_one_flow_per_completed_request(any_run: Path) -> None:
    """Each completed request: one slice (admission to last token) with prefill and decode inside it on the
    same slot thread of its replica's process, and a routing flow that lands on its decode (first token)."""
    trace = _trace(any_run)
    completed = {e["request_id"]: e for e in raw_events(any_run) if e["kind"] == "request_completed"}
    slices = _request_slices(trace)
    assert sorted(e["args"]["request"] for e in slices) == sorted(completed)
    phases: dict[tuple[int, int, float], set[str]] = {}
    for e in trace:
        if e["ph"] == "X" and e.get("cat") == "request" and e["name"] in ("prefill", "decode"):
            phases.setdefault((e["pid"], e["tid"], e["ts"] if e["name"] == "prefill" else -1.0), set()).add(e["name"])
    for e in slices:
        done = completed[e["args"]["request"]]
        assert e["ts"] == done["scheduled_ns"] / 1000 and e["ts"] + e["dur"] == pytest.approx(done["t_ns"] / 1000)
        assert e["args"]["queued_ms"] == pytest.approx((done["scheduled_ns"] - done["arrival_ns"]) / 1e6)
        assert "prefill" in phases[(e["pid"], e["tid"], e["ts"])]
    assert sum(1 for e in trace if e["ph"] == "X" and e.get("cat") == "request" and e["name"] == "decode") == len(completed)
    outs, ins = flow_pairs(trace)
    assert len(ins) == len(completed) and ins <= outs
    decodes = [e for e in trace if e["ph"] == "X" and e.get("cat") == "request" and e["name"] == "decode"]
    assert all(e.get("flow_in") for e in decodes)


def test_request_tracks_are_slots_bounded_by_the_batch(any_run: Path) -> None:
    """A replica's requests share a few slot threads: no more than requests in flight at once (and than
    max_num_seqs), far fewer than requests; no two requests overlap on a slot."""
    trace = _trace(any_run)
    slices = _request_slices(trace)
    by_replica: dict[int, list[dict[str, Any]]] = {}
    for e in slices:
        by_replica.setdefault(e["pid"], []).append(e)
    names = {(e["pid"], e["tid"]): e["args"]["name"] for e in trace if e["ph"] == "M" and e["name"] == "thread_name"}
    for pid, group in by_replica.items():
        tids = {e["tid"] for e in group}
        assert all(names[(pid, t)].startswith("slot ") for t in tids)
        edges = sorted([(e["ts"], 1) for e in group] + [(e["ts"] + e["dur"], -1) for e in group])
        peak = max(0, *(sum(d for _, d in edges[: i + 1]) for i in range(len(edges))))
        assert len(tids) <= min(peak, 256)
    assert sum(len({e["tid"] for e in g}) for g in by_replica.values()) < len(slices) / 2


def test_processes_threads_and_counters_are_named(example_run: Path) -> None:
    """Router and node processes, a process per GPU named for its node, queue and KV counters per GPU."""
    trace = _trace(example_run)
    names = {(e["name"], e["args"]["name"]) for e in trace if e["ph"] == "M" and "name" in e.get("args", {})}
    gpus = {(e["node"], e["replica"]) for e in raw_events(example_run) if e["kind"] == "iteration_run"}
    assert ("process_name", "router / cluster") in names and ("process_name", "node 1") in names
    assert {("process_name", f"node {n} · GPU {g}") for n, g in gpus} <= names
    assert {("thread_name", f"GPU {g}") for _, g in gpus} <= names
    gpus = {g for _, g in gpus}
    counters = {e["name"] for e in trace if e["ph"] == "C"}
    assert counters == {f"{g} queue" for g in gpus} | {f"{g} KV" for g in gpus}
    iterations = [e for e in trace if e["ph"] == "X" and e.get("cat") == "iteration"]
    assert len(iterations) == sum(1 for e in raw_events(example_run) if e["kind"] == "iteration_run")
    assert {"batch_size", "prefill_tokens", "decode_tokens", "kv_used_blocks"} <= set(iterations[0]["args"])


def test_counters_sample_each_change_once(any_run: Path) -> None:
    """Counter samples are step changes: no repeated value in a row, and each track ends at the GPU's last value."""
    trace = _trace(any_run)
    tracks: dict[str, list[float]] = {}
    for e in sorted((e for e in trace if e["ph"] == "C"), key=lambda e: e["ts"]):
        tracks.setdefault(e["name"], []).extend(e["args"].values())
    assert tracks and all(a != b for values in tracks.values() for a, b in zip(values, values[1:]))
    last: dict[str, dict[str, Any]] = {}
    for e in raw_events(any_run):
        if e["kind"] == "iteration_run":
            last[e["replica"]] = e
    for replica, e in last.items():
        assert tracks[f"{replica} queue"][-1] == e["waiting"]
        assert tracks[f"{replica} KV"][-1] == round(100.0 * e["kv_used_blocks"] / e["kv_total_blocks"], 2)


def test_preemptions_and_loads_are_marked(preempt_run: Path) -> None:
    """Instants for every preemption; an async slice and instants for the model load."""
    trace = _trace(preempt_run)
    n_pre = sum(1 for e in raw_events(preempt_run) if e["kind"] == "request_preempted")
    assert sum(1 for e in trace if e["ph"] == "i" and e["name"] == "preempt") == n_pre > 0
    assert any(e["ph"] == "b" and e.get("cat") == "model_load" for e in trace)
    assert any(e["ph"] == "i" and e.get("cat") == "model_load" for e in trace)


def test_requests_detail_has_no_iteration_slices_or_counters(tmp_path: Path) -> None:
    """`requests` keeps lifetimes and flows but drops per-iteration slices and counters."""
    run = replay(tmp_path, "--trace-detail", "requests", "--limit", "30")
    trace = _trace(run)
    assert not [e for e in trace if e["ph"] == "C" or e.get("cat") == "iteration"]
    assert any(e["ph"] == "b" for e in trace) and flow_pairs(trace)[1]
    assert nesting_violations(trace) == [] and async_violations(trace) == []


def test_auto_detail_shows_iterations_up_to_its_budget(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`auto` (the default): every run of iterations until the budget, then a marker and none."""
    full = _trace(replay(tmp_path / "full", "--limit", "30"))  # default detail, far below the budget
    events = raw_events(tmp_path / "full")
    runs = sum(1 for e in events if e["kind"] == "iteration_run")
    assert sum(1 for e in full if e.get("cat") == "iteration") == runs > 8
    assert not [e for e in full if e["name"] == "iteration detail ends"]

    monkeypatch.setattr(chrome_trace, "AUTO_ITERATION_RUNS", 8)
    cut = _trace(replay(tmp_path / "cut", "--limit", "30", "--trace-detail", "auto"))
    slices = [e for e in cut if e.get("cat") == "iteration"]
    assert len(slices) == 8
    marker = [e for e in cut if e["name"] == "iteration detail ends"]
    assert len(marker) == 1 and marker[0]["ts"] >= max(e["ts"] + e["dur"] for e in slices)
    assert nesting_violations(cut) == [] and async_violations(cut) == []
    writer = ChromeTraceWriter(tmp_path / "default.json")  # the writer's own default is auto too
    assert writer.handlers[IterationRun].__name__ == "_iteration_within_budget" and DEFAULT_DETAIL == "auto"
    writer.close()
    assert ReplayOptions(input="x").trace_detail == DEFAULT_DETAIL


def test_off_writes_no_trace(tmp_path: Path) -> None:
    """`off`: no trace.json at all."""
    run = replay(tmp_path, "--trace-detail", "off", "--limit", "5")
    assert not (run / "trace.json").exists()


def test_unknown_detail_is_rejected(tmp_path: Path) -> None:
    """The writer accepts only the documented levels."""
    assert DETAIL_LEVELS == ("off", "requests", "auto", "iterations")
    with pytest.raises(ValueError):
        ChromeTraceWriter(tmp_path / "t.json", detail="everything")


def test_the_checks_catch_broken_traces() -> None:
    """The nesting and pairing checks do flag partial overlaps and unclosed async slices."""
    overlap = [{"ph": "X", "pid": 1, "tid": 2, "ts": 0.0, "dur": 10.0, "name": "a"},
               {"ph": "X", "pid": 1, "tid": 2, "ts": 5.0, "dur": 10.0, "name": "b"}]
    assert nesting_violations(overlap)
    nested = [{**overlap[0]}, {**overlap[1], "dur": 5.0}]
    assert nesting_violations(nested) == []
    unclosed = [{"ph": "b", "cat": "request", "id": "r", "ts": 0.0, "name": "request r"},
                {"ph": "b", "cat": "request", "id": "r", "ts": 0.0, "name": "queued"},
                {"ph": "e", "cat": "request", "id": "r", "ts": 1.0, "name": "request r"}]
    assert async_violations(unclosed)


def test_request_ids_of_any_characters_survive_the_trace(tmp_path: Path) -> None:
    """Lifetimes and routing markers are written as JSON text: ids with quotes, backslashes,
    control characters and non-ASCII come back exactly, on both ends of each flow."""
    ids = ['say "hi"', "back\\slash", "naïve-中文", "tab\there", "bell\x07", "plain"]
    trace_file = tmp_path / "odd.jsonl"
    trace_file.write_text("".join(orjson.dumps({"id": rid, "input_tokens": 50 + i, "output_tokens": 5,
                                                "arrival_s": i * 0.01}).decode() + "\n"
                                  for i, rid in enumerate(ids)))
    trace = _trace(replay(tmp_path / "out", "--input", str(trace_file), "--n-engines", "1", "--default-model", "llama-3.1-8b-instruct",
                          "--trace-detail", "iterations"))
    routed = {e["args"]["request"] for e in trace if e["name"] == "route"}
    served = {e["args"]["request"] for e in _request_slices(trace)}
    assert routed == served == set(ids)
    assert {e["name"] for e in _request_slices(trace)} == {f"request {rid}" for rid in ids}
    outs, ins = flow_pairs(trace)
    assert nesting_violations(trace) == [] and async_violations(trace) == [] and outs == ins and len(outs) == len(ids)


def test_environment_changes_are_marked_and_removed_replicas_counters_end(tmp_path: Path) -> None:
    """A global marker per environment change; a removed replica's queue and KV counters drop to 0 at its removal."""
    changes = tmp_path / "changes.jsonl"
    changes.write_text('{"timestamp": 1.0, "gpu_name": "nvidia_H100", "amount": 1}\n'
                       '{"timestamp": 2.0, "gpu_name": "nvidia_A100", "amount": -2}\n'
                       '{"timestamp": 3.0, "gpu_name": "nvidia_H100", "amount": -1, "node": 2}\n')
    run = replay(tmp_path / "out", "--environment-change-file", str(changes), "--trace-detail", "iterations",
                 "--arrival-rate", "20", "--warm-start")
    trace, events = _trace(run), raw_events(run)
    n_changes = sum(1 for e in events if e["kind"] == "environment_changed")
    markers = [e for e in trace if e["ph"] == "i" and e.get("s") == "g"]
    assert len(markers) == n_changes == 3 and all(m["name"].startswith("environment: ") for m in markers)
    removed = [e for e in events if e["kind"] == "replica_removed"]
    assert removed
    pids = {e["args"]["name"].rsplit("GPU ", 1)[-1]: e["pid"] for e in trace
            if e["ph"] == "M" and e["name"] == "process_name" and " · GPU " in e["args"]["name"]}
    for r in removed:
        samples = sorted((e["ts"], e["name"], list(e["args"].values())[0]) for e in trace
                         if e["ph"] == "C" and e["pid"] == pids[r["replica"]])
        last_ts = samples[-1][0]
        assert last_ts == r["t_ns"] / 1000
        finals = {name: v for ts, name, v in samples}
        assert finals == {f"{r['replica']} queue": 0, f"{r['replica']} KV": 0.0}
    assert nesting_violations(trace) == [] and async_violations(trace) == []
