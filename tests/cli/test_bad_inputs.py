"""Every kind of bad input gives one stderr line naming file, line and field, exit status 2, no traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import NamedTuple

import pytest

from llmsim.errors import EXIT_BAD_INPUT


class Case(NamedTuple):
    """A bad invocation: `{d}` in args is the inputs folder; `where` is the file (or flag) named."""

    id: str
    args: tuple[str, ...]
    where: str
    line: int | None = None
    field: str | None = None


ENV = ("-e", "{d}/env.json")
MODEL = ("--default-model", "llama-3.1-8b-instruct")  # the test traces name no model


def trace(name: str, *more: str) -> tuple[str, ...]:
    """Replay the trace `name` on the one-A100 environment, model-less requests served by Llama-3.1-8B."""
    return ("-i", "{d}/" + name, *ENV, *MODEL, *more)


CASES = [
    Case("missing file", trace("no_such.jsonl"), "no_such.jsonl"),
    Case("unreadable file (a folder)", trace("a_dir"), "a_dir"),
    Case("missing env.json", ("-i", "{d}/ok.jsonl", "-e", "{d}/nope.json"), "nope.json"),
    Case("not JSON", trace("not_json.jsonl"), "not_json.jsonl", 2),
    Case("not UTF-8", trace("not_utf8.jsonl"), "not_utf8.jsonl", 2),
    Case("truncated last line", trace("truncated.jsonl"), "truncated.jsonl", 2),
    Case("missing field", trace("missing_field.jsonl"), "missing_field.jsonl", 2, "output_tokens"),
    Case("wrong type", trace("wrong_type.jsonl"), "wrong_type.jsonl", 2, "input_tokens"),
    Case("negative tokens, strict", trace("negative.jsonl", "--strict"), "negative.jsonl", 2, "input_tokens"),
    Case("zero tokens, strict", trace("zero.jsonl", "--strict"), "zero.jsonl", 2, "output_tokens"),
    Case("absurd tokens, strict", trace("absurd.jsonl", "--strict"), "absurd.jsonl", 2, "input_tokens"),
    Case("unknown model, strict", trace("unknown_model.jsonl", "--strict"), "unknown_model.jsonl", 2, "model"),
    Case("model too big, strict", trace("too_big.jsonl", "--strict"), "too_big.jsonl", 2, "model"),
    Case("unknown model, --model", trace("ok.jsonl", "--model", "no/such-model"), "--model"),
    Case("unknown model in env.json", ("-i", "{d}/ok.jsonl", "-e", "{d}/env_unknown_model.json"),
         "env_unknown_model.json", None, "nodes[0].deployments[0].model"),
    Case("unknown GPU id in env.json", ("-i", "{d}/ok.jsonl", "-e", "{d}/env_unknown_gpu.json"),
         "env_unknown_gpu.json", None, "nodes[0].gpu_types[0]"),
    Case("unknown GPU id, --hardware", ("-i", "{d}/ok.jsonl", "--n-engines", "1", "--hardware", "nvidia_Z9"),
         "--hardware"),
    Case("unknown GPU id in change file", trace("ok.jsonl", "--environment-change-file", "{d}/changes_unknown_gpu.jsonl"),
         "changes_unknown_gpu.jsonl", 2, "gpu_name"),
    Case("env.json with no nodes", ("-i", "{d}/ok.jsonl", "-e", "{d}/env_no_nodes.json"), "env_no_nodes.json",
         None, "nodes"),
    Case("env.json with no GPUs", ("-i", "{d}/ok.jsonl", "-e", "{d}/env_no_gpus.json"), "env_no_gpus.json",
         None, "nodes"),
    Case("env.json not JSON", ("-i", "{d}/ok.jsonl", "-e", "{d}/env_not_json.json"), "env_not_json.json", 3),
    Case("env.json missing field", ("-i", "{d}/ok.jsonl", "-e", "{d}/env_missing_field.json"),
         "env_missing_field.json", None, "nodes[0]"),
    Case("env.json wrong type", ("-i", "{d}/ok.jsonl", "-e", "{d}/env_wrong_type.json"), "env_wrong_type.json",
         None, "nodes[0].node_id"),
    Case("env.json bad serving option", ("-i", "{d}/ok.jsonl", "-e", "{d}/env_bad_serving.json"),
         "env_bad_serving.json", None, "defaults.max_num_batched_tokens"),
    Case("change removes GPUs that do not exist", trace("ok.jsonl", "--environment-change-file", "{d}/changes_remove.jsonl"),
         "changes_remove.jsonl", 2, "amount"),
    Case("change timestamp before the previous", trace("ok.jsonl", "--environment-change-file",
                                                       "{d}/changes_backwards.jsonl"),
         "changes_backwards.jsonl", 2, "timestamp"),
    Case("trace times go backwards", trace("backwards.jsonl"), "backwards.jsonl", 2, "arrival"),
    Case("empty trace", trace("empty.jsonl"), "empty.jsonl"),
    Case("output folder is a file", trace("ok.jsonl", "-o", "{d}/a_file"), "a_file"),
    Case("output folder inside a file", trace("ok.jsonl", "-o", "{d}/a_file/out"), "a_file"),
    Case("--arrival-rate 0", trace("ok.jsonl", "--arrival-rate", "0"), "--arrival-rate"),
    Case("--arrival-rate negative", trace("ok.jsonl", "--arrival-rate=-2"), "--arrival-rate"),
    Case("--arrival-rate not a number", trace("ok.jsonl", "--arrival-rate", "fast"), "--arrival-rate"),
    Case("--environment with --n-engines", trace("ok.jsonl", "--n-engines", "2"), "--n-engines"),
    Case("--tp not a power of two", ("-i", "{d}/ok.jsonl", "--n-engines", "1", "--tp", "3"), "--tp"),
    Case("unknown flag", trace("ok.jsonl", "--no-such-flag"), "--no-such-flag"),
    Case("unknown trace format", trace("ok.jsonl", "--format", "excel"), "--format"),
]


def _expand(args: tuple[str, ...], folder: Path) -> list[str]:
    return [a.replace("{d}", str(folder)) for a in args]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_is_one_clear_line(case: Case, inputs: Path, cli) -> None:  # type: ignore[no-untyped-def]
    """Exit 2; stderr is exactly one `llmsim: error:` line naming file, line and field; no traceback."""
    status, out, err = cli("replay", "-q", "-o", str(inputs / "out"), *_expand(case.args, inputs))
    lines = err.strip().splitlines()
    assert status == EXIT_BAD_INPUT, err
    assert len(lines) == 1, err
    assert lines[0].startswith("llmsim: error: "), err
    assert "Traceback" not in err and out == ""
    assert case.where in lines[0]
    if case.line is not None:
        assert f"{case.where}:{case.line}: " in lines[0]
    if case.field is not None:
        assert f": {case.field}: " in lines[0]


def test_help_still_works(cli) -> None:  # type: ignore[no-untyped-def]
    """--help prints usage and exits 0 (the one-line parser only changes errors)."""
    status, out, _ = cli("replay", "--help")
    assert status == 0 and "--arrival-rate" in out


@pytest.mark.parametrize("args", [["replay", "-i", "{d}/not_json.jsonl", "-e", "{d}/env.json"],
                                  ["replay", "--arrival-rate", "x"]])
def test_no_traceback_in_a_real_process(args: list[str], inputs: Path) -> None:
    """The installed entry point prints one line and exits 2 (checked in a separate process)."""
    proc = subprocess.run([sys.executable, "-m", "llmsim", *_expand(tuple(args), inputs), "-q",
                           "-o", str(inputs / "out")], capture_output=True, text=True, timeout=120)
    assert proc.returncode == EXIT_BAD_INPUT
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr


def test_debug_shows_the_traceback(inputs: Path, cli) -> None:  # type: ignore[no-untyped-def]
    """--debug re-raises the error so its traceback is shown."""
    from llmsim.errors import TraceError

    with pytest.raises(TraceError):
        cli("--debug", "replay", "-q", "-i", str(inputs / "not_json.jsonl"), "-e", str(inputs / "env.json"),
            *MODEL, "-o", str(inputs / "out"))
