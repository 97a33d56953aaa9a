"""Fuzzing every command, not only replay: generated flags, traces, event logs and hardware files (issue 16).

Each example must end in exit status 0 or in one `llmsim: error:` line with status 2; a
traceback, another status or a hang is a bug. The budget follows LLMSIM_FUZZ_EXAMPLES (scripts/fuzz.py).
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from llmsim.cli import main

from .test_fuzz import EXAMPLE_TIMEOUT_S, time_limit, trace_files

EXAMPLES = int(os.environ.get("LLMSIM_FUZZ_EXAMPLES", "25"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize="LLMSIM_FUZZ_EXAMPLES" not in os.environ,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                       HealthCheck.data_too_large])

NUMBERS = st.one_of(st.sampled_from(["0", "1", "-1", "nan", "inf", "1e308", "1e-300", "7", "2.5", "x", "",
                                     "99999999999999999999", "-0"]),
                    st.integers(-10**6, 10**6).map(str), st.floats(allow_nan=True).map(repr))
GPU_FIELDS = ["memory_bytes", "hbm_bandwidth_bytes_per_s", "peak_fp16_flops", "peak_fp8_flops", "peak_int8_flops",
              "onchip_buffer_bytes", "interconnect_bandwidth_bytes_per_s", "interconnect_latency_s",
              "pcie_bandwidth_bytes_per_s"]
FIGURES: list[Any] = [0, -1, 1, 1e-300, 1e308, 80_000_000_000, 2e12, 3e14, "x", None, [], 2**70]


def judge(status: int, err: str) -> None:
    """Status 0, or status 2 with exactly one error line; never a traceback."""
    assert "Traceback" not in err, err
    event(f"exit {status}")
    if status != 0:
        lines = err.strip().splitlines()
        assert status == 2 and len(lines) == 1 and lines[0].startswith("llmsim: error: "), (status, err)


def run(capsys: pytest.CaptureFixture[str], args: list[str]) -> None:
    capsys.readouterr()
    with time_limit(EXAMPLE_TIMEOUT_S):
        status = main(args)
    judge(status, capsys.readouterr().err)


@st.composite
def option_sets(draw: st.DrawFn, options: list[str]) -> list[str]:
    """A few of `options`, each with a generated (often bad) number."""
    chosen = draw(st.lists(st.sampled_from(options), max_size=3, unique=True))
    return [f"{o}={draw(NUMBERS)}" for o in chosen]


TRACE_OPTIONS = ["--arrival-rate", "--burstiness", "--time-scale", "--start", "--duration", "--limit", "--seed"]


@FUZZ
@given(trace=trace_files(), flags=option_sets(TRACE_OPTIONS), command=st.sampled_from(["stats", "convert"]))
def test_fuzzed_workload_stats_and_convert(capsys: pytest.CaptureFixture[str], trace: bytes, flags: list[str],
                                           command: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "t.jsonl"
        path.write_bytes(trace)
        head = ["workload", "stats"] if command == "stats" else ["convert", "-o", str(Path(tmp) / "c.jsonl")]
        run(capsys, [*head, str(path), *flags])


GENERATE_OPTIONS = ["--count", "--duration", "--arrival-rate", "--burstiness", "--max-tokens", "--seed"]


@FUZZ
@given(flags=option_sets(GENERATE_OPTIONS), count=st.integers(1, 50),
       spec=st.sampled_from(["lognormal:100:50", "fixed:10", "uniform:1:5", "zipf", "fixed:-3", "lognormal:0:0", ""]))
def test_fuzzed_generate(capsys: pytest.CaptureFixture[str], flags: list[str], count: int, spec: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        run(capsys, ["generate", "--count", str(count), "--input-tokens", spec, "-o", str(Path(tmp) / "g.jsonl"),
                     *flags])


COST_OPTIONS = ["--tp", "--batch", "--input-len", "--context-len"]


@FUZZ
@given(flags=option_sets(COST_OPTIONS), command=st.sampled_from(["cost", "roofline"]),
       gpu=st.fixed_dictionaries({}, optional={f: st.sampled_from(FIGURES) for f in GPU_FIELDS}),
       bare=st.booleans(), use_file=st.booleans())
def test_fuzzed_cost_and_hardware_files(capsys: pytest.CaptureFixture[str], flags: list[str], command: str,
                                        gpu: dict[str, Any], bare: bool, use_file: bool) -> None:
    """Hardware files with generated figures: refused with the file named, or a finite answer."""
    with tempfile.TemporaryDirectory() as tmp:
        entry = {"id": "fuzz_gpu", "name": "Fuzz", "memory_bytes": 80_000_000_000, "hbm_bandwidth_bytes_per_s": 2e12,
                 "peak_fp16_flops": 3e14, **gpu}
        hw = Path(tmp) / "hw.json"
        hw.write_text(json.dumps([entry] if bare else {"gpus": [entry]}))
        args = [command, "--model", "llama-3.1-8b-instruct"]
        args += ["--hardware", "fuzz_gpu", "--hardware-file", str(hw)] if use_file else ["--hardware", "nvidia_A100"]
        run(capsys, [*args, *flags])


EVENTS_OPTIONS = ["--since", "--until", "--node"]


@pytest.fixture(scope="module")
def event_log(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    root = tmp_path_factory.mktemp("events")
    (root / "t.jsonl").write_text('{"input_tokens": 50, "output_tokens": 5, "model": "llama-3.1-8b-instruct"}\n' * 5)
    assert main(["replay", "-q", "-i", str(root / "t.jsonl"), "--n-engines", "1", "-o", str(root / "out")]) == 0
    return (root / "out" / "events.jsonl").read_bytes()


@FUZZ
@given(cut=st.integers(0, 10**6), junk=st.sampled_from([b"", b"garbage\n", b"[" * 3000 + b"\n", b"\xff\n", b"{}\n",
                                                         b'{"kind": "nope", "t_ns": 1}\n']),
       action=st.sampled_from(["summary", "filter", "timeline", "report"]), flags=option_sets(EVENTS_OPTIONS))
def test_fuzzed_event_logs(capsys: pytest.CaptureFixture[str], event_log: bytes, cut: int, junk: bytes, action: str,
                           flags: list[str]) -> None:
    """Truncated or polluted event logs through `events` and `report`."""
    data = event_log[: cut % (len(event_log) + 1)] + junk
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "events.jsonl"
        path.write_bytes(data)
        if action == "report":
            pytest.importorskip("matplotlib")
            run(capsys, ["report", str(path), "-o", str(Path(tmp) / "rep")])
        elif action == "timeline":
            run(capsys, ["events", str(path), "timeline", "--request", "t.jsonl:1"])
        elif action == "filter":
            run(capsys, ["events", str(path), "filter", *flags])
        else:
            run(capsys, ["events", str(path), "summary"])
