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
    # issue 16: hostile inputs
    "deep.jsonl": (OK_LINE + '{"input_tokens": 10, "output_tokens": 5, "x": ' + "[" * 100_000 + "]" * 100_000
                   + "}\n").encode(),
    "deep_first.jsonl": ("[" * 200_000 + "\n").encode(),
    "slo_bad.jsonl": (OK_LINE + '{"input_tokens": 10, "output_tokens": 5, "slo": {"ttft_s": -1}}\n').encode(),
    "model_path.jsonl": b"",  # written by the fixture: a trace naming a real config folder by its path
    "env_tp_too_big.json": json.dumps({"nodes": [{"node_id": 1, "gpu_types": ["nvidia_A100"],
                                                  "gpu_count_per_type": [2],
                                                  "deployments": [{"model": "llama-3.1-8b-instruct",
                                                                   "tp": 4}]}]}).encode(),
    "env_replicas.json": json.dumps({"nodes": [{"node_id": 1, "gpu_types": ["nvidia_A100"],
                                                "gpu_count_per_type": [2],
                                                "deployments": [{"model": "llama-3.1-8b-instruct",
                                                                 "replicas": 5}]}]}).encode(),
    "env_70b_tp1.json": json.dumps({"nodes": [{"node_id": 1, "gpu_types": ["nvidia_A100"],
                                               "gpu_count_per_type": [8],
                                               "deployments": [{"model": "llama-2-70b-hf", "tp": 1}]}]}).encode(),
    "env_deep.json": ('{"nodes": ' + "[" * 100_000 + "]" * 100_000 + "}").encode(),
    "env_two_models.json": json.dumps({"nodes": [
        {"node_id": 1, "gpu_types": ["nvidia_A100"], "gpu_count_per_type": [1],
         "deployments": [{"model": "llama-3.1-8b-instruct"}]},
        {"node_id": 2, "gpu_types": ["nvidia_A100"], "gpu_count_per_type": [1],
         "deployments": [{"model": "qwen2.5-7b-instruct"}]}]}).encode(),
    "hw_zero.json": json.dumps({"gpus": [{"id": "x_gpu", "name": "X", "memory_bytes": 0,
                                          "hbm_bandwidth_bytes_per_s": 1e12, "peak_fp16_flops": 1e14}]}).encode(),
    "hw_negative_link.json": json.dumps([{"id": "x_gpu", "name": "X", "memory_bytes": 80_000_000_000,
                                          "hbm_bandwidth_bytes_per_s": 1e12, "peak_fp16_flops": 1e14,
                                          "pcie_bandwidth_bytes_per_s": -5}]).encode(),
    "hw_deep.json": ("[" * 100_000 + "]" * 100_000).encode(),
    "changes_deep.jsonl": ('{"timestamp": ' + "[" * 100_000 + "]" * 100_000 + "}\n").encode(),
    "events_bad.jsonl": b'{"kind": "run_started", "t_ns": 0, "seed": 0, "description": ""}\nnot an event\n',
    "events_deep.jsonl": ("[" * 100_000 + "]" * 100_000 + "\n").encode(),
}

# Model config folders: (folder, config.json); a zero head count would divide by zero.
MODEL_DIRS: dict[str, dict[str, object]] = {
    "model_zero_heads": {"model_type": "llama", "hidden_size": 4096, "num_attention_heads": 0,
                         "num_hidden_layers": 32, "vocab_size": 32000, "intermediate_size": 11008},
    "model_ok": {"model_type": "llama", "hidden_size": 1024, "num_attention_heads": 16, "num_key_value_heads": 16,
                 "num_hidden_layers": 4, "vocab_size": 32000, "intermediate_size": 2816},
    "model_bad_experts": {"model_type": "mixtral", "hidden_size": 1024, "num_attention_heads": 16,
                          "num_hidden_layers": 4, "vocab_size": 32000, "intermediate_size": 2816,
                          "num_local_experts": 8, "num_experts_per_tok": 9},
}


@pytest.fixture
def inputs(tmp_path: Path) -> Path:
    """A folder holding every file of FILES, plus a sub-folder `a_dir`."""
    for name, data in FILES.items():
        (tmp_path / name).write_bytes(data)
    (tmp_path / "a_dir").mkdir()
    for name, config in MODEL_DIRS.items():
        (tmp_path / name).mkdir()
        (tmp_path / name / "config.json").write_text(json.dumps(config))
    (tmp_path / "model_path.jsonl").write_text(
        OK_LINE + json.dumps({"input_tokens": 10, "output_tokens": 5, "model": str(tmp_path / "model_ok")}) + "\n")
    (tmp_path / "link.png").symlink_to(tmp_path / "a_file")
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "events.jsonl").write_bytes(FILES["events_bad.jsonl"])
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
