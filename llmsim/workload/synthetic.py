"""Synthetic workloads: canonical trace records from length distributions and an arrival model."""

from __future__ import annotations

from collections.abc import Iterator

import msgspec
import numpy as np

from llmsim.errors import UsageError
from llmsim.workload.arrivals import inter_arrival_gaps_s
from llmsim.workload.canonical import CanonicalRecord
from llmsim.workload.lengths import LengthDistribution, draw_lengths
from llmsim.workload.shared_prefix import UNIT_TOKENS, SharedPrefixSpec, cycle

_BATCH = 4096


class GenerateOptions(msgspec.Struct, frozen=True, kw_only=True):
    """What to generate: how many requests (or for how long), at what rate, for which model."""

    count: int | None = None
    duration_s: float | None = None
    rate: float | None = 1.0
    burstiness: float | None = None
    model: str | None = None
    max_tokens: int | None = None
    seed: int = 0
    shared_prefix: SharedPrefixSpec | None = None  # cycle through G x U prompts with shared system prompts


def generate(
    inputs: LengthDistribution | None,
    outputs: LengthDistribution | None,
    opts: GenerateOptions,
    *,
    joint: tuple[np.ndarray, np.ndarray] | None = None,
) -> Iterator[CanonicalRecord]:
    """Yield canonical records; the same options and seed always give the same trace.

    Inputs, outputs and arrivals draw from three independent streams spawned from the seed, so
    changing one distribution leaves the others' draws unchanged. `joint` resamples (input,
    output) pairs together from a trace instead, keeping their correlation. `rate` None writes
    an untimed trace.
    """
    _validate(opts)
    if joint is None and (inputs is None or outputs is None):
        raise UsageError("give input and output length distributions, or a trace to resample")
    return _records(inputs, outputs, opts, joint)


def _records(
    inputs: LengthDistribution | None,
    outputs: LengthDistribution | None,
    opts: GenerateOptions,
    joint: tuple[np.ndarray, np.ndarray] | None,
) -> Iterator[CanonicalRecord]:
    """The generator behind `generate`, started once the options are known to be valid."""
    seeds = np.random.SeedSequence(opts.seed).spawn(4)  # the first three are those of a 3-way spawn
    in_rng, out_rng, arrival_rng, order_rng = (np.random.default_rng(s) for s in seeds)
    times = _arrival_times(opts, arrival_rng)
    index = 0
    spec = opts.shared_prefix
    prompts = None if spec is None else _shared_prompts(spec, inputs, outputs, joint, in_rng, out_rng, opts, order_rng)
    while True:
        in_batch, out_batch = _length_batch(inputs, outputs, joint, in_rng, out_rng, opts.max_tokens)
        for input_tokens, output_tokens in zip(in_batch.tolist(), out_batch.tolist()):
            hashes: tuple[int, ...] = ()
            if prompts is not None:
                input_tokens, output_tokens, hashes = prompts[index % len(prompts)]
            if opts.count is not None and index >= opts.count:
                return
            arrival_s = next(times)
            arrival_s = None if arrival_s is None else round(arrival_s, 9)
            if opts.duration_s is not None and arrival_s is not None and arrival_s >= opts.duration_s:
                return
            yield CanonicalRecord(
                arrival_s=arrival_s,
                input_tokens=input_tokens,
                output_tokens=output_tokens,
                model=opts.model,
                id=f"gen-{index:06d}",
                prefix_hashes=hashes,
                prefix_block_tokens=UNIT_TOKENS if hashes else None,
            )
            index += 1


def _shared_prompts(spec: SharedPrefixSpec, inputs: LengthDistribution | None, outputs: LengthDistribution | None,
                    joint: tuple[np.ndarray, np.ndarray] | None, in_rng: np.random.Generator,
                    out_rng: np.random.Generator, opts: GenerateOptions,
                    order_rng: np.random.Generator) -> list[tuple[int, int, tuple[int, ...]]]:
    """The distinct prompts, in sending order: questions and outputs drawn once per prompt."""
    questions: list[int] = []
    outs: list[int] = []
    while len(questions) < spec.prompts:
        q, o = _length_batch(inputs, outputs, joint, in_rng, out_rng, opts.max_tokens)
        questions += q.tolist()
        outs += o.tolist()
    return cycle(spec, questions, outs, spec.prompts, order_rng)


def _validate(opts: GenerateOptions) -> None:
    if opts.count is None and opts.duration_s is None:
        raise UsageError("give --count or --duration")
    if opts.count is not None and opts.count < 1:
        raise UsageError(f"count must be >= 1, got {opts.count}", field="--count")
    if opts.duration_s is not None and opts.rate is None:
        raise UsageError("--duration needs arrival times (drop --untimed)", field="--duration")
    if opts.rate is not None and not opts.rate > 0:
        raise UsageError(f"arrival rate must be > 0, got {opts.rate}", field="--arrival-rate")
    if opts.burstiness is not None and not opts.burstiness > 0:
        raise UsageError(f"burstiness must be > 0, got {opts.burstiness}", field="--burstiness")
    if opts.max_tokens is not None and opts.max_tokens < 1:
        raise UsageError(f"max tokens must be >= 1, got {opts.max_tokens}", field="--max-tokens")


def _arrival_times(opts: GenerateOptions, rng: np.random.Generator) -> Iterator[float | None]:
    """Arrival times in seconds: first at 0, then Poisson or Gamma gaps; None when untimed."""
    if opts.rate is None:
        while True:
            yield None
    gaps = inter_arrival_gaps_s(opts.rate, opts.burstiness, rng)
    t_s = 0.0
    while True:
        yield t_s
        t_s += next(gaps)


def _length_batch(
    inputs: LengthDistribution | None,
    outputs: LengthDistribution | None,
    joint: tuple[np.ndarray, np.ndarray] | None,
    in_rng: np.random.Generator,
    out_rng: np.random.Generator,
    max_tokens: int | None,
) -> tuple[np.ndarray, np.ndarray]:
    """The next batch of (input, output) lengths."""
    if joint is not None:
        rows = in_rng.integers(0, joint[0].size, size=_BATCH)
        return np.clip(joint[0][rows], 1, max_tokens), np.clip(joint[1][rows], 1, max_tokens)
    assert inputs is not None and outputs is not None
    return (
        draw_lengths(inputs, in_rng, _BATCH, max_tokens),
        draw_lengths(outputs, out_rng, _BATCH, max_tokens),
    )
