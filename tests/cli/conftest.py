"""Fixtures for command-line tests: a folder of small good and bad input files, and a CLI runner."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from llmsim.cli import main

A100_ENV = {"nodes": [{"node_id": 1, "gpu_types": ["nvidia_A100"], "gpu_count_per_type": [1]}]}
OK_LINE = '{"input_tokens": 10, "output_tokens": 5}\n'

# name -> file content (bytes); every trace has one good line first, so the bad one is line 2.
FILES: dict[str, bytes] = {
    "ok.jsonl": (OK_LINE * 2).encode(),
    "not_json.jsonl": (OK_LINE + "this is not json\n").encode(),
    "not_utf8.jsonl": OK_LINE.encode() + b'{"input_tokens": 10, "output_tokens": 5, "model": "\xff\xfe"}\n',
    "truncated.jsonl": (OK_LINE + '{"input_tokens": 10, "output_to').encode(),
    "missing_field.jsonl": (OK_LINE + '{"input_tokens": 10}\n').encode(),
    "wrong_type.jsonl": (OK_LINE + '{"input_tokens": "ten", "output_tokens": 5}\n').encode(),
    "negative.jsonl": (OK_LINE + '{"input_tokens": -3, "output_tokens": 5}\n').encode(),
    "zero.jsonl": (OK_LINE + '{"input_tokens": 10, "output_tokens": 0}\n').encode(),
    "absurd.jsonl": (OK_LINE + '{"input_tokens": 10000000000000, "output_tokens": 5}\n').encode(),
    "unknown_model.jsonl": (OK_LINE + '{"input_tokens": 10, "output_tokens": 5, "model": "no/such-model"}\n').encode(),
    "too_big.jsonl": (OK_LINE + '{"input_tokens": 10, "output_tokens": 5, "model": "llama-2-70b-hf"}\n').encode(),
    "backwards.jsonl": ('{"input_tokens": 10, "output_tokens": 5, "arrival_s": 2.0}\n'
                        '{"input_tokens": 10, "output_tokens": 5, "arrival_s": 1.0}\n').encode(),
    "empty.jsonl": b"",
    "env.json": json.dumps(A100_ENV).encode(),
    "env_no_nodes.json": b'{"nodes": []}',
    "env_no_gpus.json": json.dumps({"nodes": [{"node_id": 1, "gpu_types": ["nvidia_A100"],
                                               "gpu_count_per_type": [0]}]}).encode(),
    "env_unknown_gpu.json": json.dumps({"nodes": [{"node_id": 1, "gpu_types": ["nvidia_Z9"],
                                                   "gpu_count_per_type": [1]}]}).encode(),
    "env_not_json.json": b'{"nodes": [\n  {"node_id": 1,\n   "gpu_types": [oops]}]}',
    "env_missing_field.json": b'{"nodes": [{"node_id": 1, "gpu_count_per_type": [1]}]}',
    "env_wrong_type.json": b'{"nodes": [{"node_id": "one", "gpu_types": ["nvidia_A100"], "gpu_count_per_type": [1]}]}',
    "env_bad_serving.json": json.dumps({**A100_ENV, "defaults": {"max_num_batched_tokens": 0}}).encode(),
    "env_unknown_model.json": json.dumps({"nodes": [{"node_id": 1, "gpu_types": ["nvidia_A100"],
                                                     "gpu_count_per_type": [1],
                                                     "deployments": [{"model": "no/such-model"}]}]}).encode(),
    "changes_remove.jsonl": b'{"timestamp": 1, "gpu_name": "nvidia_A100", "amount": 1}\n'
                            b'{"timestamp": 2, "gpu_name": "nvidia_A100", "amount": -5}\n',
    "changes_backwards.jsonl": b'{"timestamp": 2, "gpu_name": "nvidia_A100", "amount": 1}\n'
                               b'{"timestamp": 1, "gpu_name": "nvidia_A100", "amount": 1}\n',
    "changes_unknown_gpu.jsonl": b'{"timestamp": 1, "gpu_name": "nvidia_A100", "amount": 1}\n'
                                 b'{"timestamp": 2, "gpu_name": "nvidia_Z9", "amount": 1}\n',
    "a_file": b"not a folder\n",
}


@pytest.fixture
def inputs(tmp_path: Path) -> Path:
    """A folder holding every file of FILES, plus a sub-folder `a_dir`."""
    for name, data in FILES.items():
        (tmp_path / name).write_bytes(data)
    (tmp_path / "a_dir").mkdir()
    return tmp_path


CliRun = Callable[..., tuple[int, str, str]]


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> CliRun:
    """Run `llmsim ARGS...` in-process; return (exit status, stdout, stderr)."""

    def run(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        try:
            status = main(list(args))
        except SystemExit as exc:  # --help and friends
            status = int(exc.code or 0)
        out, err = capsys.readouterr()
        return status, out, err

    return run
