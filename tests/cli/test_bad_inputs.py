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
    # ---- issue 16: hostile inputs, unbounded options, quiet misreadings ----
    Case("JSON nested too deeply", trace("deep.jsonl"), "deep.jsonl", 2),
    Case("a huge first line of brackets", trace("deep_first.jsonl"), "deep_first.jsonl"),
    Case("env.json nested too deeply", ("-i", "{d}/ok.jsonl", "-e", "{d}/env_deep.json", *MODEL), "env_deep.json"),
    Case("change file nested too deeply", trace("ok.jsonl", "--environment-change-file", "{d}/changes_deep.jsonl"),
         "changes_deep.jsonl", 1),
    Case("hardware file nested too deeply", trace("ok.jsonl", "--hardware-file", "{d}/hw_deep.json"), "hw_deep.json"),
    Case("hardware figure zero", trace("ok.jsonl", "--hardware-file", "{d}/hw_zero.json"), "hw_zero.json", None,
         "gpus[0].memory_bytes"),
    Case("hardware figure negative (bare list)", trace("ok.jsonl", "--hardware-file", "{d}/hw_negative_link.json"),
         "hw_negative_link.json", None, "gpus[0].pcie_bandwidth_bytes_per_s"),
    Case("model config with zero heads", trace("ok.jsonl", "--model", "{d}/model_zero_heads"), "config.json", None,
         "num_attention_heads"),
    Case("model config with more experts per token than experts",
         trace("ok.jsonl", "--model", "{d}/model_bad_experts"), "config.json", None, "num_experts_per_tok"),
    Case("negative per-request SLO", trace("slo_bad.jsonl"), "slo_bad.jsonl", 2, "slo.ttft_s"),
    Case("no model anywhere", ("-i", "{d}/ok.jsonl", *ENV), "ok.jsonl", 1, "model"),
    Case("no model, legacy engines", ("-i", "{d}/ok.jsonl", "--n-engines", "2"), "ok.jsonl", 1, "model"),
    Case("no model, env.json deploys two", ("-i", "{d}/ok.jsonl", "-e", "{d}/env_two_models.json"), "ok.jsonl", 1,
         "model"),
    Case("unknown --default-model", trace("ok.jsonl", "--default-model", "no/such"), "--default-model"),
    Case("a model path in a trace is a name, strict", trace("model_path.jsonl", "--strict"), "model_path.jsonl", 2,
         "model"),
    Case("--tp in legacy mode without a model", ("-i", "{d}/ok.jsonl", "--n-engines", "1", "--tp", "2"), "--tp"),
    Case("deployment tp larger than the node", ("-i", "{d}/ok.jsonl", "-e", "{d}/env_tp_too_big.json"),
         "env_tp_too_big.json", None, "nodes[0].deployments[0].tp"),
    Case("deployed model too big at its tp", ("-i", "{d}/ok.jsonl", "-e", "{d}/env_70b_tp1.json"),
         "env_70b_tp1.json", None, "nodes[0].deployments[0]"),
    Case("more replicas than GPUs", ("-i", "{d}/ok.jsonl", "-e", "{d}/env_replicas.json"), "env_replicas.json",
         None, "nodes[0].deployments[0].replicas"),
    Case("--seed negative", trace("ok.jsonl", "--seed=-1"), "--seed"),
    Case("--seed not an integer", trace("ok.jsonl", "--seed", "1.5"), "--seed"),
    Case("--print-interval infinite", trace("ok.jsonl", "--print-interval", "inf"), "--print-interval"),
    Case("--print-interval nan", trace("ok.jsonl", "--print-interval", "nan"), "--print-interval"),
    Case("--load-report-interval absurd", trace("ok.jsonl", "--load-report-interval", "1e300"),
         "--load-report-interval"),
    Case("--max-num-seqs absurd", trace("ok.jsonl", "--max-num-seqs", "1000000000000"), "--max-num-seqs"),
    Case("--max-num-batched-tokens 0", trace("ok.jsonl", "--max-num-batched-tokens", "0"), "--max-num-batched-tokens"),
    Case("--block-size 0", trace("ok.jsonl", "--block-size", "0"), "--block-size"),
    Case("--concurrency 0", trace("ok.jsonl", "--concurrency", "0"), "--concurrency"),
    Case("--think-time without --concurrency", trace("ok.jsonl", "--think-time", "1"), "--think-time"),
    Case("--duration 0", trace("ok.jsonl", "--duration", "0"), "--duration"),
    Case("--start nan", trace("ok.jsonl", "--start", "nan"), "--start"),
    Case("--limit negative", trace("ok.jsonl", "--limit=-1"), "--limit"),
    Case("--time-scale 0", trace("ok.jsonl", "--time-scale", "0"), "--time-scale"),
    Case("--burstiness absurd", trace("ok.jsonl", "--arrival-rate", "1", "--burstiness", "1e9"), "--burstiness"),
    Case("--slo negative", trace("ok.jsonl", "--slo", "ttft=-1"), "--slo"),
    Case("--slo target given twice", trace("ok.jsonl", "--slo", "ttft=1,ttft=2"), "--slo"),
    Case("--n-engines absurd", ("-i", "{d}/ok.jsonl", *MODEL, "--n-engines", "1000000"), "--n-engines"),
    Case("unknown routing policy", trace("ok.jsonl", "--routing-policy", "nope"), "--routing-policy"),
    Case("unknown reprovisioning policy", trace("ok.jsonl", "--reprovisioning-policy", "nope"),
         "--reprovisioning-policy"),
    Case("trace output is the input", trace("ok.jsonl", "--trace-output", "{d}/ok.jsonl"), "ok.jsonl", None,
         "--trace-output"),
    Case("stats output is env.json", trace("ok.jsonl", "--stats-output", "{d}/env.json"), "env.json", None,
         "--stats-output"),
    Case("stats output is a folder", trace("ok.jsonl", "--stats-output", "{d}/a_dir"), "a_dir", None,
         "--stats-output"),
]


class CommandCase(NamedTuple):
    """A bad invocation of any command: full arguments; `where` must appear in the one error line."""

    id: str
    args: tuple[str, ...]
    where: str
    line: int | None = None


COMMAND_CASES = [
    # events
    CommandCase("events: missing run", ("events", "{d}/nope", "summary"), "nope"),
    CommandCase("events: a line that is no event", ("events", "{d}/run", "summary"), "events.jsonl", 2),
    CommandCase("events: nested too deeply", ("events", "{d}/events_deep.jsonl", "summary"), "events_deep.jsonl", 1),
    CommandCase("events: --since negative", ("events", "{d}/run", "filter", "--since=-1"), "--since"),
    CommandCase("events: --window 0", ("events", "{d}/run", "summary", "--window", "0"), "--window"),
    CommandCase("events: --node negative", ("events", "{d}/run", "filter", "--node=-3"), "--node"),
    # report
    CommandCase("report: missing run", ("report", "{d}/nope"), "nope"),
    CommandCase("report: --bucket 0", ("report", "{d}/run", "--bucket", "0"), "--bucket"),
    CommandCase("report: --bucket nan", ("report", "{d}/run", "--bucket", "nan"), "--bucket"),
    # workload stats
    CommandCase("workload stats: missing file", ("workload", "stats", "{d}/nope.jsonl"), "nope.jsonl"),
    CommandCase("workload stats: not JSON", ("workload", "stats", "{d}/not_json.jsonl"), "not_json.jsonl", 2),
    CommandCase("workload stats: nested too deeply", ("workload", "stats", "{d}/deep.jsonl"), "deep.jsonl", 2),
    CommandCase("workload stats: --plot onto a link", ("workload", "stats", "{d}/ok.jsonl", "--plot", "{d}/link.png"),
                "link.png"),
    CommandCase("workload stats: --seed negative", ("workload", "stats", "{d}/ok.jsonl", "--seed=-4"), "--seed"),
    CommandCase("workload stats: --arrival-rate negative", ("workload", "stats", "{d}/ok.jsonl", "--arrival-rate=-1"),
                "--arrival-rate"),
    CommandCase("workload stats: --time-scale 0", ("workload", "stats", "{d}/ok.jsonl", "--time-scale", "0"),
                "--time-scale"),
    # generate
    CommandCase("generate: --count 0", ("generate", "--count", "0"), "--count"),
    CommandCase("generate: --count negative", ("generate", "--count=-5"), "--count"),
    CommandCase("generate: --arrival-rate inf", ("generate", "--count", "3", "--arrival-rate", "inf"), "--arrival-rate"),
    CommandCase("generate: --burstiness 0", ("generate", "--count", "3", "--burstiness", "0"), "--burstiness"),
    CommandCase("generate: --max-tokens 0", ("generate", "--count", "3", "--max-tokens", "0"), "--max-tokens"),
    CommandCase("generate: --seed negative", ("generate", "--count", "3", "--seed=-1"), "--seed"),
    CommandCase("generate: --duration nan", ("generate", "--duration", "nan"), "--duration"),
    CommandCase("generate: a length spec beyond any request", ("generate", "--count", "3", "--input-tokens",
                                                                "lognormal:1e308:1"), "--input-tokens"),
    CommandCase("generate: --duration x --arrival-rate without end", ("generate", "--duration", "1e9",
                                                                      "--arrival-rate", "1e9"), "--duration"),
    CommandCase("generate: -o onto a folder", ("generate", "--count", "3", "-o", "{d}/a_dir"), "a_dir"),
    CommandCase("generate: --lengths-from missing", ("generate", "--count", "3", "--lengths-from", "{d}/nope.jsonl"),
                "nope.jsonl"),
    # convert
    CommandCase("convert: missing file", ("convert", "{d}/nope.jsonl"), "nope.jsonl"),
    CommandCase("convert: -o is the input", ("convert", "{d}/ok.jsonl", "-o", "{d}/ok.jsonl"), "ok.jsonl"),
    CommandCase("convert: --duration 0", ("convert", "{d}/ok.jsonl", "--duration", "0"), "--duration"),
    CommandCase("convert: truncated last line", ("convert", "{d}/truncated.jsonl", "-o", "{d}/c.jsonl"),
                "truncated.jsonl", 2),
    # cost
    CommandCase("cost: --tp 0", ("cost", "--model", "llama-3.1-8b-instruct", "--hardware", "nvidia_A100", "--tp", "0"),
                "--tp"),
    CommandCase("cost: --batch absurd", ("cost", "--model", "llama-3.1-8b-instruct", "--hardware", "nvidia_A100",
                                         "--batch", "99999999999"), "--batch"),
    CommandCase("cost: --input-len negative", ("cost", "--model", "llama-3.1-8b-instruct", "--hardware",
                                               "nvidia_A100", "--input-len=-1"), "--input-len"),
    CommandCase("cost: unknown model", ("cost", "--model", "no/such", "--hardware", "nvidia_A100"), "no/such"),
    CommandCase("cost: model config with zero heads", ("cost", "--model", "{d}/model_zero_heads", "--hardware",
                                                       "nvidia_A100"), "num_attention_heads"),
    CommandCase("cost: hardware figure zero", ("cost", "--model", "llama-3.1-8b-instruct", "--hardware", "x_gpu",
                                               "--hardware-file", "{d}/hw_zero.json"), "hw_zero.json"),
    # roofline
    CommandCase("roofline: --matrix-dims 0", ("roofline", "--hardware", "nvidia_A100", "--matrix-dims", "0",
                                              "--input-sizes", "1"), "--matrix-dims"),
    CommandCase("roofline: --plot onto a link", ("roofline", "--hardware", "nvidia_A100", "--model",
                                                 "llama-3.1-8b-instruct", "--plot", "{d}/link.png"), "link.png"),
    CommandCase("roofline: unknown GPU", ("roofline", "--hardware", "nvidia_Z9", "--model", "llama-3.1-8b-instruct"),
                "nvidia_Z9"),
    CommandCase("roofline: hardware file nested too deeply", ("roofline", "--hardware", "nvidia_A100",
                                                              "--hardware-file", "{d}/hw_deep.json",
                                                              "--model", "llama-3.1-8b-instruct"), "hw_deep.json"),
    # calibrate
    CommandCase("calibrate: --data missing", ("calibrate", "--data", "{d}/nope"), "nope"),
    CommandCase("calibrate: --data a file", ("calibrate", "--data", "{d}/a_file"), "a_file"),
]


@pytest.mark.parametrize("case", COMMAND_CASES, ids=[c.id for c in COMMAND_CASES])
def test_every_command_refuses_bad_input_in_one_line(case: CommandCase, inputs: Path, cli) -> None:  # type: ignore[no-untyped-def]
    """events, report, workload, generate, convert, cost, roofline, calibrate: exit 2, one line, no traceback."""
    status, out, err = cli(*_expand(case.args, inputs))
    lines = err.strip().splitlines()
    assert status == EXIT_BAD_INPUT, err
    assert len(lines) == 1 and lines[0].startswith("llmsim: error: "), err
    assert "Traceback" not in err
    assert case.where in lines[0], lines[0]
    if case.line is not None:
        assert f":{case.line}: " in lines[0], lines[0]


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
