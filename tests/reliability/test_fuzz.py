"""Fuzzing the replay: generated traces, env.json and change files, valid and subtly invalid.

Every run must end one of two ways: a clean one-line error with exit status 2, or exit status 0
with every invariant holding and every request accounted for. Anything else — a traceback, an
invariant violation (exit 1), a hang — is a bug.

The default budget is small so that the test suite stays fast; set LLMSIM_FUZZ_EXAMPLES (or run
`scripts/fuzz.py`) for a larger one. See docs/errors.md.
"""

from __future__ import annotations

import json
import os
import re
import signal
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from llmsim.cli import main

EXAMPLES = int(os.environ.get("LLMSIM_FUZZ_EXAMPLES", "25"))
EXAMPLE_TIMEOUT_S = float(os.environ.get("LLMSIM_FUZZ_TIMEOUT_S", "60"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize="LLMSIM_FUZZ_EXAMPLES" not in os.environ,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                       HealthCheck.data_too_large])

GPUS = ["nvidia_A100", "nvidia_H100", "nvidia_L4"]
MODELS = ["llama-3.1-8b-instruct", "meta-llama/Meta-Llama-3.1-8B-Instruct", "qwen2.5-7b-instruct"]
ODD_MODELS = ["no/such-model", "llama-2-70b-hf", "", "mixtral-8x7b-v0.1"]
ODD_VALUES: list[Any] = ["ten", "12", 1.5, 12.0, True, None, [], {}, -1, 0, 10**13, 2**70, 1e308, -1e308, ""]
HUGE_AND_TINY: list[Any] = [1e300, 1e-300, 2**70, -1.0]
ODD_LINES = [b"garbage", b"[1, 2, 3]", b'"text"', b"\xff\xfe\xfd", b"{", b"", b"   ", b"null", b"{}"]


def rare(draw: st.DrawFn, one_in: int) -> bool:
    """True about once in `one_in` draws (a middle value: hypothesis favours the ends of a range)."""
    return draw(st.integers(0, one_in - 1)) == one_in // 2


# ---- traces -------------------------------------------------------------------------------------
def _record(draw: st.DrawFn, fmt: str, t_s: float | None) -> dict[str, Any]:
    inp, out = ("reported_token_input", "reported_token_output") if fmt == "seed" else ("input_tokens", "output_tokens")
    rec: dict[str, Any] = {inp: draw(st.integers(1, 3000)), out: draw(st.integers(1, 300))}
    if draw(st.booleans()):
        rec["model"] = draw(st.sampled_from(MODELS + ODD_MODELS)) if rare(draw, 4) else draw(st.sampled_from(MODELS))
    if draw(st.booleans()):
        rec["id"] = draw(st.one_of(st.integers(0, 10**6), st.text(max_size=8)))
    if t_s is not None:
        rec["arrival_s"] = t_s
    if fmt == "canonical" and rare(draw, 4):
        rec["priority"] = draw(st.integers(-3, 3))
    return rec


def _mutate(draw: st.DrawFn, rec: dict[str, Any]) -> None:
    key = draw(st.sampled_from(sorted(rec)))
    action = draw(st.sampled_from(["delete", "odd", "tokens"]))
    if action == "delete":
        del rec[key]
    elif action == "odd":
        rec[key] = draw(st.sampled_from(ODD_VALUES))
    else:
        rec[key] = draw(st.sampled_from([0, -1, -500, 10**7, 10**7 + 1, 10**12]))


@st.composite
def trace_files(draw: st.DrawFn) -> bytes:
    """A seed or canonical JSONL trace, usually valid, sometimes subtly not."""
    fmt = draw(st.sampled_from(["seed", "canonical"]))
    timed = fmt == "canonical" and draw(st.booleans())
    lines: list[bytes] = []
    if fmt == "canonical" and draw(st.booleans()):
        lines.append(b'{"llmsim_trace_version": %d}' % (1 if not rare(draw, 8) else 2))
    t_s = 0.0
    for _ in range(draw(st.integers(1, 6))):
        t_s += draw(st.sampled_from([0.0, 0.01, 0.5, 3.0]))
        rec = _record(draw, fmt, round(t_s, 3) if timed else None)
        if timed and rare(draw, 12):
            rec["arrival_s"] = t_s - draw(st.sampled_from([0.5, 100.0]))
        if rare(draw, 6):
            _mutate(draw, rec)
        lines.append(draw(st.sampled_from(ODD_LINES)) if rare(draw, 15) else json.dumps(rec).encode())
    data = b"\n".join(lines) + b"\n"
    if rare(draw, 15):
        data = data.rstrip(b"\n")[: -draw(st.integers(1, 5))]
    return b"" if rare(draw, 30) else data


# ---- environments and change files --------------------------------------------------------------
def _node(draw: st.DrawFn, node_id: int) -> dict[str, Any]:
    types = draw(st.lists(st.sampled_from(GPUS), min_size=1, max_size=2, unique=True))
    if rare(draw, 15):
        types[0] = "nvidia_Z9"
    node: dict[str, Any] = {"node_id": node_id, "gpu_types": types,
                            "gpu_count_per_type": [draw(st.integers(1, 4)) if not rare(draw, 10) else
                                                   draw(st.sampled_from([0, -1])) for _ in types]}
    if rare(draw, 4):
        node["memory_per_gpu_gb"] = [draw(st.sampled_from([80.0, 24.0, 16.0, 1.0, 0.0] + HUGE_AND_TINY)) for _ in types]
    if rare(draw, 3):
        node["deployments"] = [{"model": draw(st.sampled_from(MODELS if not rare(draw, 5) else ODD_MODELS)),
                                "tp": draw(st.sampled_from([1, 1, 2, 3]))}]
        if rare(draw, 3):
            node["deployments"][0]["replicas"] = draw(st.integers(0, 3))
    return node


@st.composite
def env_files(draw: st.DrawFn) -> bytes:
    """An env.json in node form (rarely the legacy `gpus` form), sometimes subtly invalid."""
    env: dict[str, Any] = {"nodes": [_node(draw, i + 1) for i in range(draw(st.integers(0 if rare(draw, 15) else 1, 3)))]}
    if rare(draw, 10):
        env["gpus"] = [{"name": draw(st.sampled_from(GPUS)), "amount": draw(st.integers(0, 2)),
                        "model": draw(st.sampled_from(MODELS))}]
    if rare(draw, 4):
        env["defaults"] = {"max_num_batched_tokens": draw(st.sampled_from([64, 512, 2048, 0])),
                           "max_num_seqs": draw(st.sampled_from([1, 4, 256])),
                           "block_size": draw(st.sampled_from([1, 16, 32])),
                           "enable_chunked_prefill": draw(st.booleans())}
    if rare(draw, 8):
        env["infrastructure"] = {draw(st.sampled_from(["disk_bandwidth_mbps", "pcie_bandwidth_gbps", "engine_warmup_s"])):
                                 draw(st.sampled_from([2000.0, 1.0, 0.0] + HUGE_AND_TINY))}
    if rare(draw, 15):
        env["surprise"] = 1
    if rare(draw, 15) and env["nodes"]:
        env["nodes"][0]["node_id"] = draw(st.sampled_from(ODD_VALUES))
    data = json.dumps(env).encode()
    return data[: -draw(st.integers(1, 10))] if rare(draw, 20) else data


@st.composite
def change_files(draw: st.DrawFn) -> bytes | None:
    """None (no change file) or a JSONL of GPU additions and removals."""
    if draw(st.booleans()):
        return None
    lines, t_s = [], 0.0
    for _ in range(draw(st.integers(0, 4))):
        t_s += draw(st.sampled_from([0.0, 0.5, 2.0]))
        change: dict[str, Any] = {"timestamp": t_s if not rare(draw, 12) else draw(st.sampled_from([-1.0, 0.0])),
                                  "gpu_name": draw(st.sampled_from(GPUS + (["nvidia_Z9"] if rare(draw, 10) else []))),
                                  "amount": draw(st.sampled_from([-2, -1, 1, 2, 3] + ([0] if rare(draw, 10) else [])))}
        if rare(draw, 15):
            change[draw(st.sampled_from(sorted(change)))] = draw(st.sampled_from(ODD_VALUES))
        lines.append(json.dumps(change).encode())
    return b"\n".join(lines) + b"\n"


@st.composite
def flag_sets(draw: st.DrawFn) -> list[str]:
    """Replay flags, mostly valid."""
    flags: list[str] = []
    if not rare(draw, 5):  # a trace without model fields needs one (issue 16); sometimes left out on purpose
        flags += ["--default-model", draw(st.sampled_from(MODELS))]
    if draw(st.booleans()):
        flags.append("--strict")
    if rare(draw, 3):
        flags += ["--arrival-rate", draw(st.sampled_from(["5", "0.5", "100"] + (["0", "-1", "abc", "inf", "nan"]
                                                                             if rare(draw, 3) else [])))]
    if rare(draw, 6):
        flags += ["--limit", str(draw(st.integers(0, 4)))]
    if rare(draw, 6):
        flags += ["--max-num-batched-tokens", str(draw(st.sampled_from([64, 256, 8192])))]
    if rare(draw, 8):
        flags.append("--no-chunked-prefill")
    if rare(draw, 8):
        flags += ["--routing-policy", draw(st.sampled_from(["random", "least-loaded", "power-of-two"]))]
    if rare(draw, 10):
        flags.append("--step-mode")
    return flags


# ---- running and judging ------------------------------------------------------------------------
@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Fail an example that runs too long (a hang is a bug too)."""

    def expire(signum: int, frame: object) -> None:
        raise TimeoutError(f"replay ran longer than {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def replay(capsys: pytest.CaptureFixture[str], folder: Path, trace: bytes, env: bytes | None,
           changes: bytes | None, flags: list[str]) -> tuple[int, str]:
    """Write the inputs into `folder`, run `llmsim replay` in-process; return (status, stderr)."""
    (folder / "trace.jsonl").write_bytes(trace)
    args = ["replay", "-q", "-i", str(folder / "trace.jsonl"), "-o", str(folder / "out"), "--trace-detail",
            "requests", *flags]
    if env is not None:
        (folder / "env.json").write_bytes(env)
        args += ["-e", str(folder / "env.json")]
    else:
        args += ["--n-engines", "1"]
    if changes is not None:
        (folder / "changes.jsonl").write_bytes(changes)
        args += ["--environment-change-file", str(folder / "changes.jsonl")]
    capsys.readouterr()
    with time_limit(EXAMPLE_TIMEOUT_S):
        status = main(args)
    return status, capsys.readouterr().err


def judge(status: int, err: str, out_dir: Path) -> None:
    """A clean one-line error, or a complete run whose every invariant holds."""
    assert "Traceback" not in err
    event(f"exit {status}" + (" " + re.sub(r"\S*/", "", err.strip())[15:75] if status == 2 else ""))
    if status == 2:
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("llmsim: error: "), err
        return
    assert status == 0, f"exit {status}: {err}"
    stats = json.loads((out_dir / "stats.json").read_bytes())
    r = stats["requests"]
    assert stats["complete"] and stats["invariants"]["ok"], stats["invariants"]
    assert r["total"] == r["completed"] + r["failed"] and r["unfinished"] == 0
    assert r["read"] == r["total"] + r["skipped_invalid"]
    records = (out_dir / "requests.jsonl").read_bytes().splitlines()
    assert len(records) == r["completed"] + r["failed"]
    json.loads((out_dir / "trace.json").read_bytes())


@FUZZ
@given(trace=trace_files(), flags=flag_sets())
def test_fuzzed_traces(capsys: pytest.CaptureFixture[str], trace: bytes, flags: list[str]) -> None:
    """Generated traces on the one-engine cluster: clean error or a sound run."""
    with tempfile.TemporaryDirectory() as tmp:
        status, err = replay(capsys, Path(tmp), trace, None, None, flags)
        judge(status, err, Path(tmp) / "out")


@FUZZ
@given(trace=trace_files(), env=env_files(), changes=change_files(), flags=flag_sets())
def test_fuzzed_clusters(capsys: pytest.CaptureFixture[str], trace: bytes, env: bytes, changes: bytes | None,
                         flags: list[str]) -> None:
    """Generated environments and change files with generated traces: clean error or a sound run."""
    with tempfile.TemporaryDirectory() as tmp:
        status, err = replay(capsys, Path(tmp), trace, env, changes, flags)
        judge(status, err, Path(tmp) / "out")


# ---- valid but demanding runs: preemption, re-provisioning, GPUs coming and going ---------------
SMALL_MODELS = ["llama-3.1-8b-instruct", "qwen2.5-7b-instruct", "mistral-7b-v0.1"]


@st.composite
def busy_runs(draw: st.DrawFn) -> tuple[bytes, bytes, bytes | None, list[str]]:
    """A valid cluster under a heavy, multi-model, bursty load, with GPUs added and removed mid-run."""
    nodes = [{"node_id": i + 1, "gpu_types": [gpu], "gpu_count_per_type": [draw(st.integers(1, 3))],
              "memory_per_gpu_gb": [draw(st.sampled_from([18.0, 20.0, 24.0, 80.0]))]}
             for i, gpu in enumerate(draw(st.lists(st.sampled_from(GPUS), min_size=1, max_size=3)))]
    env = {"nodes": nodes, "defaults": {"max_num_batched_tokens": draw(st.sampled_from([256, 2048])),
                                        "max_num_seqs": draw(st.sampled_from([2, 8, 256])),
                                        "enable_chunked_prefill": draw(st.booleans())}}
    models = draw(st.lists(st.sampled_from(SMALL_MODELS), min_size=1, max_size=3, unique=True))
    lines, t_s = [], 0.0
    for _ in range(draw(st.integers(5, 40))):
        t_s += draw(st.sampled_from([0.0, 0.0, 0.05, 0.5, 5.0]))
        lines.append(json.dumps({"arrival_s": round(t_s, 3), "model": draw(st.sampled_from(models)),
                                 "input_tokens": draw(st.sampled_from([1, 17, 500, 3000, 20000])),
                                 "output_tokens": draw(st.sampled_from([1, 2, 64, 1000])),
                                 "priority": draw(st.integers(-1, 1))}).encode())
    changes, counts, c_t = [], {n["gpu_types"][0]: 0 for n in nodes}, 0.0
    for n in nodes:
        counts[n["gpu_types"][0]] += n["gpu_count_per_type"][0]
    for _ in range(draw(st.integers(0, 4))):
        c_t += draw(st.sampled_from([0.1, 1.0, 10.0]))
        gpu = draw(st.sampled_from(GPUS))
        amount = -draw(st.integers(1, counts[gpu])) if counts.get(gpu) and draw(st.booleans()) else draw(st.integers(1, 2))
        counts[gpu] = counts.get(gpu, 0) + amount
        changes.append(json.dumps({"timestamp": c_t, "gpu_name": gpu, "amount": amount}).encode())
    flags = draw(st.lists(st.sampled_from(["--step-mode", "--preempt-on-reprovision", "--strict"]), unique=True))
    flags += ["--routing-policy", draw(st.sampled_from(["round-robin", "least-loaded", "random", "least-kv"]))]
    if draw(st.booleans()):
        flags += ["--reprovisioning-policy", draw(st.sampled_from(["random", "least-recently-used", "least-loaded"]))]
    if draw(st.booleans()):
        flags += ["--load-report-interval", draw(st.sampled_from(["0.01", "0.5", "5"]))]
    if draw(st.booleans()):
        flags += ["--trace-detail", "iterations"]
    return (b"\n".join(lines) + b"\n", json.dumps(env).encode(),
            b"\n".join(changes) + b"\n" if changes else None, flags)


@FUZZ
@given(run=busy_runs())
def test_fuzzed_busy_clusters(capsys: pytest.CaptureFixture[str],
                              run: tuple[bytes, bytes, bytes | None, list[str]]) -> None:
    """Valid demanding runs finish with every invariant holding (or a clean --strict refusal)."""
    trace, env, changes, flags = run
    with tempfile.TemporaryDirectory() as tmp:
        status, err = replay(capsys, Path(tmp), trace, env, changes, flags)
        judge(status, err, Path(tmp) / "out")
