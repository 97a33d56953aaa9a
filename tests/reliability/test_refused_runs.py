"""A refused run changes nothing on disk: property tests over generated bad options and inputs (issue 16).

A good run writes an output folder first; then a generated bad invocation into the same folder
must exit 2 with one error line and leave every byte of that folder (and of its inputs) as it was.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llmsim.cli import main
from llmsim.errors import EXIT_BAD_INPUT
from llmsim.testing import folder_snapshot as snapshot

EXAMPLES = int(os.environ.get("LLMSIM_FUZZ_EXAMPLES", "25"))
PROPERTY = settings(max_examples=EXAMPLES, deadline=None, derandomize="LLMSIM_FUZZ_EXAMPLES" not in os.environ,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
MODEL = "llama-3.1-8b-instruct"
LINE = {"input_tokens": 60, "output_tokens": 6, "model": MODEL}
ENV = {"nodes": [{"node_id": 1, "gpu_types": ["nvidia_A100"], "gpu_count_per_type": [2]}]}

# Numeric options and the bounds they must refuse to leave.
NUMERIC = ["--seed", "--arrival-rate", "--burstiness", "--time-scale", "--start", "--duration", "--limit",
           "--concurrency", "--think-time", "--print-interval", "--load-report-interval", "--max-num-batched-tokens",
           "--max-num-seqs", "--block-size", "--gpu-memory-utilization", "--n-engines"]
BAD_NUMBERS = ["-1", "-0.5", "nan", "inf", "-inf", "1e400", "abc", "", "0x10", "1e300", "99999999999999999999"]
NAMED = ["--routing-policy", "--reprovisioning-policy", "--calibration", "--hardware", "--model", "--default-model",
         "--format", "--trace-detail", "--dtype", "--scheduling", "--arrival-process"]


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Inputs and the outputs of one good run, copied for each example."""
    root = tmp_path_factory.mktemp("refused")
    (root / "t.jsonl").write_text("".join(json.dumps(LINE) + "\n" for _ in range(40)))
    (root / "env.json").write_text(json.dumps(ENV))
    assert main(["replay", "-q", "-i", str(root / "t.jsonl"), "-e", str(root / "env.json"), "-o",
                 str(root / "out")]) == 0
    return root


@st.composite
def bad_invocations(draw: st.DrawFn) -> tuple[list[str], dict[str, bytes]]:
    """(arguments with {d} for the folder, files to write first): each must be refused."""
    args = ["-i", "{d}/t.jsonl", "-e", "{d}/env.json"]
    files: dict[str, bytes] = {}
    kind = draw(st.sampled_from(["number", "name", "bad line", "bad env", "output clash", "model-less"]))
    if kind == "number":
        option = draw(st.sampled_from(NUMERIC))
        value = draw(st.one_of(st.sampled_from(BAD_NUMBERS), st.floats(max_value=-1e-9).map(repr)))
        if option == "--n-engines":
            args = ["-i", "{d}/t.jsonl"]
        args += [f"{option}={value}"]
    elif kind == "name":
        option = draw(st.sampled_from(NAMED))
        value = draw(st.text(alphabet="abcxyz-_/.", min_size=1, max_size=12).map(lambda s: "zz" + s))
        args += [option, value]
    elif kind == "bad line":
        lines = [json.dumps(LINE).encode()] * draw(st.integers(0, 300))
        bad = draw(st.sampled_from([b"not json", b'{"input_tokens": "x", "output_tokens": 3}', b"[1]",
                                    b'{"input_tokens": 3}', b"\xff\xfe", b'{"input_tokens": 1, "output_tokens": '
                                    + b"[" * 5000 + b"]" * 5000 + b"}"]))
        lines.insert(draw(st.integers(0, len(lines))), bad)
        files["t.jsonl"] = b"\n".join(lines) + b"\n"
    elif kind == "bad env":
        node: dict[str, Any] = dict(ENV["nodes"][0])  # type: ignore[index]
        key, value = draw(st.sampled_from([("gpu_count_per_type", [-1]), ("gpu_types", ["nvidia_Z9"]),
                                           ("memory_per_gpu_gb", [0]), ("network_bandwidth_gbps", -1),
                                           ("deployments", [{"model": MODEL, "tp": 4}]),
                                           ("deployments", [{"model": MODEL, "replicas": 9}]),
                                           ("deployments", [{"model": "no/such"}])]))
        node[key] = value
        files["env.json"] = json.dumps({"nodes": [node]}).encode()
    elif kind == "output clash":
        args += draw(st.sampled_from([["--trace-output", "{d}/t.jsonl"], ["--stats-output", "{d}/env.json"],
                                      ["--stats-output", "{d}/out/trace.json", "--trace-output",
                                       "{d}/out/trace.json"], ["--stats-output", "{d}/out"]]))
    else:
        files["t.jsonl"] = b'{"input_tokens": 5, "output_tokens": 5}\n' * draw(st.integers(1, 5))
    return args, files


@PROPERTY
@given(case=bad_invocations())
def test_a_refused_run_leaves_the_output_folder_byte_identical(template: Path, case: tuple[list[str], dict[str, bytes]],
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    args, files = case
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "w"
        shutil.copytree(template, folder)
        for name, data in files.items():
            (folder / name).write_bytes(data)
        before = snapshot(folder)
        capsys.readouterr()
        status = main(["replay", "-q", "-o", str(folder / "out"), *[a.replace("{d}", str(folder)) for a in args]])
        err = capsys.readouterr().err
        assert status == EXIT_BAD_INPUT, (args, err)
        assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
        assert snapshot(folder) == before, (args, err)
