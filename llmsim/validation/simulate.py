"""Run a Scenario through the real replay path (`llmsim.replay.run_replay`) from a generated trace.

The trace is a temporary canonical JSONL file (docs/trace_format.md): untimed, so that arrival
times come from replay's own options (all at t=0, or a constant / Poisson rate, seed 0).
"""

from __future__ import annotations

import csv
import functools
import os
import tempfile
from collections.abc import Callable
from importlib import resources
from typing import Any

import numpy as np
import orjson

from llmsim.cost import CalibrationProfile
from llmsim.cost.calibration import register_profile
from llmsim.errors import LlmsimError
from llmsim.options import ReplayOptions
from llmsim.validation.scenario import CLOSED_LOOP_ROUNDS, Scenario
from llmsim.workload.shared_prefix import UNIT_TOKENS, cycle

# A calibration: a profile name (`default`, `vllm-h100`, `none`...), a profile object, or a function
# from llmsim hardware id to profile (one fitted per GPU).
Calibration = str | CalibrationProfile | Callable[[str], CalibrationProfile]


def _profile_object(calibration: Calibration, hardware: str) -> CalibrationProfile | None:
    """The profile behind a calibration given as an object or a per-GPU function; None for a name."""
    if isinstance(calibration, str):
        return None
    return calibration if isinstance(calibration, CalibrationProfile) else calibration(hardware)


def calibration_label(calibration: Calibration, hardware: str) -> str:
    """A calibration's name: as given for a name, the profile's own for a profile or a per-GPU function."""
    profile = _profile_object(calibration, hardware)
    return profile.name if profile is not None else str(calibration)


def calibration_name(calibration: Calibration, hardware: str) -> str | None:
    """The name replay resolves; profile objects are registered (`register_profile`) under their own name.

    Registering lasts for the process and replaces a profile of the same name, so a fitted
    profile named like a shipped one stands in for it in later runs of this process too.
    """
    profile = _profile_object(calibration, hardware)
    if profile is None:
        return None if calibration == "none" else str(calibration)
    register_profile(profile)
    return profile.name


def simulate(scenario: Scenario, calibration: Calibration = "default") -> dict[str, Any]:
    """stats.json of one run of `scenario` (nothing written but a temporary trace)."""
    from llmsim.replay import run_replay

    with tempfile.TemporaryDirectory(prefix="llmsim-validate-") as folder:
        path = os.path.join(folder, "trace.jsonl")
        write_trace(path, scenario)
        open_loop = scenario.workload == "open"
        opts = ReplayOptions(
            input=path, trace_format="llmsim", n_engines=1, hardware=scenario.hardware, tp=scenario.tp,
            model=scenario.model, dtype=scenario.dtype, kv_cache_dtype=scenario.kv_cache_dtype, calibration=calibration_name(calibration, scenario.hardware),
            max_num_seqs=scenario.max_num_seqs, max_num_batched_tokens=scenario.max_num_batched_tokens,
            enable_chunked_prefill=scenario.chunked_prefill, enable_prefix_caching=scenario.prefix_caching,
            async_scheduling=scenario.async_scheduling,
            disable_custom_all_reduce=not scenario.custom_all_reduce, offline=scenario.offline,
            arrival_rate=scenario.rate if open_loop else None,
            arrival_process=scenario.process if open_loop else None,
            concurrency=scenario.requests // CLOSED_LOOP_ROUNDS if scenario.workload == "closed" else None,
            seed=0, write_outputs=False, quiet=True,
        )
        result = run_replay(opts)
    if result.invariants:
        raise LlmsimError(f"simulation invariant violated: {result.invariants[0]}")
    return result.stats


def write_trace(path: str, scenario: Scenario) -> None:
    """The scenario's requests as an untimed canonical trace (fixed lengths, or the ShareGPT pairs)."""
    lines = [orjson.dumps({"llmsim_trace_version": 1})]
    spec = scenario.shared_prefix
    if spec is not None and scenario.input_tokens is not None and scenario.output_tokens is not None:
        question = scenario.input_tokens - spec.system_tokens
        prompts = cycle(spec, [question] * spec.prompts, [scenario.output_tokens] * spec.prompts, scenario.requests,
                        np.random.default_rng(0))
        lines += [orjson.dumps({"input_tokens": i, "output_tokens": o, "prefix_hashes": h,
                                "prefix_block_tokens": UNIT_TOKENS}) for i, o, h in prompts]
    else:
        if scenario.input_tokens is None or scenario.output_tokens is None:
            pairs = sharegpt_pairs(sharegpt_tokenizer(scenario.model))
            lengths = [pairs[i % len(pairs)] for i in range(scenario.requests)]
        else:
            lengths = [(scenario.input_tokens, scenario.output_tokens)] * scenario.requests
        lines += [orjson.dumps({"input_tokens": i, "output_tokens": o}) for i, o in lengths]
    with open(path, "wb") as fh:
        fh.write(b"\n".join(lines) + b"\n")


LARGE_VOCABULARY = 100_000  # Llama-3 (128k), Qwen2 (152k)... count the same text in ~15 % fewer tokens than 32k ones


def sharegpt_tokenizer(model: str) -> str:
    """Which shipped ShareGPT length table fits a model's tokenizer: `llama3` (a large vocabulary) or `llama2` (32k)."""
    from llmsim.cost.model_spec import load_model_spec

    return "llama3" if load_model_spec(model).vocab_size >= LARGE_VOCABULARY else "llama2"


@functools.lru_cache(maxsize=2)
def sharegpt_pairs(tokenizer: str = "llama3") -> tuple[tuple[int, int], ...]:
    """The 200 shipped ShareGPT (prompt, output) lengths for a tokenizer (data/README.md says how they were made)."""
    name = f"data/sharegpt_200_{tokenizer}.csv"
    text = resources.files("llmsim.validation").joinpath(name).read_text(encoding="utf-8")
    return tuple((int(r["input_tokens"]), int(r["output_tokens"])) for r in csv.DictReader(text.splitlines()))
