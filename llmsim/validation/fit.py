"""Fit the calibration families of today's engines (vllm-v1, vllm-v0) by re-simulating measured points.

Few, physical parameters, shared wherever physics is shared:
- per GPU generation (Ampere, Hopper): achieved fraction of peak FLOP/s and of HBM bandwidth;
  other GPUs get the mean of the two (a generic profile, used where nothing was measured);
- for every GPU: attention kernels' fraction of that bandwidth, MoE expert GEMMs' fractions of the
  dense GEMMs' FLOP/s and bandwidth (vLLM's fused-MoE grouped GEMM is a Triton kernel: it streams
  weights less well and, once experts hold many tokens, computes less well than cuBLAS), a launch cost per kernel (CUDA graphs), an NCCL all-reduce's fixed
  latency and its latency per ring step (rings grow with TP), the engine's custom all-reduce's latency,
  fixed and per doubling of the TP group (one kernel reading each peer's buffer once every peer's
  flag is up: no ring steps, but a wait for the latest of tp - 1 peers, which grows like log tp;
  vLLM from v0.4.1, messages up to 8 MiB);
- per engine generation: host overhead per iteration (per GPU generation too: the host CPUs of
  H100 servers are a generation newer than those of A100 servers) and per sequence (V0's Python
  scheduler and sampler run between steps; V1 overlaps most of it);
- for every engine: the API server's time per request served online (HTTP, tokenising, handing the
  prompt to the engine, streaming tokens back), which the offline benchmarks do not pay.
The objective is the mean absolute log error over points, each capped (a saturated point must not
outweigh the rest): log errors treat "2x too slow" and "2x too fast" alike.
"""

from __future__ import annotations

import fnmatch
import math
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor

import msgspec
import numpy as np

from llmsim.cost.calibration import CalibrationProfile, OpCalibration, shipped_calibration
from llmsim.cost.fitting import nelder_mead
from llmsim.validation.evaluate import Result, evaluate
from llmsim.validation.points import ServingPoint
from llmsim.validation.scenario import engine_family, scenario_for

ENGINES = ("vllm-v1", "vllm-v0")
GENERATIONS: dict[str, tuple[str, ...]] = {  # family profile suffix -> GPU id patterns
    "ampere": ("nvidia_A100*", "nvidia_A800*"),
    "hopper": ("nvidia_H100*", "nvidia_H200*"),
}
GENERIC = "generic"
# GPUs no serving measurement here covers, whose achieved fractions of peak are published: suffix ->
# (GPU id patterns, GEMM fraction of peak FLOP/s, fraction of HBM bandwidth, the fitted generation whose
# host overheads they share). Not fitted: MI300X BF16/FP8 GEMMs reach ~45 % of their datasheet peak and
# ~81 % of its 5.3 TB/s in public microbenchmarks (SemiAnalysis, Dec 2024), where an H100 reaches
# 70-80 %: the datasheet's 1.3x FLOP/s and 1.6x bandwidth over an H100 do not carry over.
PUBLISHED: dict[str, tuple[tuple[str, ...], float, float, str]] = {
    "cdna3": (("amd_MI300X*",), 0.45, 0.81, "hopper"),
}
LOG_ERROR_CAP = 1.0  # |log(pred/measured)| counted at most this much (e^1 = 2.7x)
FIT_DURATION_S = 120.0  # arrivals simulated per open-loop stage while fitting (validate uses 300 s)

# Parameter -> (low, high); Nelder-Mead searches the unit box mapped onto these. The bounds are
# what hardware reaches (a fit pressed against one says the model misses something, not that
# HBM runs at 100 %): GEMMs reach 55-90 % of peak FLOP/s, weight streaming 75-93 % of HBM
# bandwidth, attention kernels 75-100 % of that; launches cost 0.5-10 us inside CUDA graphs.
BOUNDS: dict[str, tuple[float, float]] = {
    "ampere_compute": (0.6, 0.9), "ampere_memory": (0.75, 0.93),
    "hopper_compute": (0.55, 0.85), "hopper_memory": (0.75, 0.93),
    "attention": (0.75, 1.0), "moe_memory": (0.5, 1.0), "moe_compute": (0.3, 1.0),
    "kernel_overhead_s": (0.5e-6, 10e-6), "allreduce_latency_s": (3e-6, 40e-6), "allreduce_step_s": (0.0, 15e-6),
    "custom_allreduce_latency_s": (0.5e-6, 30e-6), "custom_allreduce_doubling_s": (0.0, 15e-6),
    "vllm-v1_ampere_iteration_s": (0.2e-3, 4e-3), "vllm-v1_hopper_iteration_s": (0.2e-3, 4e-3),
    "vllm-v1_seq_s": (0.0, 50e-6),
    "vllm-v0_ampere_iteration_s": (0.5e-3, 8e-3), "vllm-v0_hopper_iteration_s": (0.5e-3, 8e-3),
    "vllm-v0_seq_s": (0.0, 100e-6),
    "frontend_s": (0.0, 30e-3),
}
# Where every search starts: textbook values, taken from no measurement here, so that a
# cross-validation fold learns nothing from the points it holds out through its starting point.
START = {"ampere_compute": 0.7, "ampere_memory": 0.85, "hopper_compute": 0.7, "hopper_memory": 0.85,
         "attention": 0.9, "moe_memory": 0.8, "moe_compute": 0.8, "kernel_overhead_s": 2e-6, "allreduce_latency_s": 10e-6,
         "allreduce_step_s": 2e-6, "custom_allreduce_latency_s": 8e-6,
         "custom_allreduce_doubling_s": 1e-6, "vllm-v1_ampere_iteration_s": 1e-3, "vllm-v1_hopper_iteration_s": 1e-3,
         "vllm-v1_seq_s": 5e-6, "vllm-v0_ampere_iteration_s": 3e-3, "vllm-v0_hopper_iteration_s": 3e-3,
         "vllm-v0_seq_s": 30e-6, "frontend_s": 3e-3}


class ModernParams(msgspec.Struct, frozen=True):
    """One point of the search: every parameter by name."""

    values: dict[str, float]

    def profile(self, engine: str, generation: str) -> CalibrationProfile:
        """The profile `<engine>-<generation>` these parameters give."""
        v = self.values
        if generation in PUBLISHED:
            _, compute, memory, like = PUBLISHED[generation]
            iteration = v[f"{engine}_{like}_iteration_s"]
        else:
            gens = tuple(GENERATIONS) if generation == GENERIC else (generation,)  # generic: the mean of both
            compute = float(np.mean([v[f"{g}_compute"] for g in gens]))
            memory = float(np.mean([v[f"{g}_memory"] for g in gens]))
            iteration = float(np.mean([v[f"{engine}_{g}_iteration_s"] for g in gens]))
        moe = OpCalibration(compute_efficiency=compute * v["moe_compute"], memory_efficiency=memory * v["moe_memory"],
                            kernel_overhead_s=v["kernel_overhead_s"])
        return CalibrationProfile(
            name=f"{engine}-{generation}", compute_efficiency=compute, memory_efficiency=memory,
            attention_efficiency=v["attention"], kernel_overhead_s=v["kernel_overhead_s"],
            iteration_overhead_s=iteration, per_seq_overhead_s=v[f"{engine}_seq_s"], frontend_overhead_s=v["frontend_s"],
            allreduce_efficiency=0.7, allreduce_latency_s=v["allreduce_latency_s"],
            allreduce_step_latency_s=v["allreduce_step_s"], custom_allreduce_latency_s=v["custom_allreduce_latency_s"],
            custom_allreduce_doubling_latency_s=v["custom_allreduce_doubling_s"], token_tile=64,
            operators={"moe_up_proj": moe, "moe_down_proj": moe}, hardware=generation, source="serving_points",
        )

    def for_gpu(self, engine: str, hw_id: str) -> CalibrationProfile:
        """The profile an engine family uses on a GPU."""
        return self.profile(engine, generation_of(hw_id))


def shipped_params() -> ModernParams:
    """The parameters stored with the shipped families (calibration.json `modern_fit`), else START."""
    stored = shipped_calibration().modern_fit.get("params", {})
    return ModernParams({k: float(stored.get(k, v)) for k, v in START.items()})


def generation_of(hw_id: str) -> str:
    """ampere / hopper / cdna3 / generic for an llmsim GPU id (the families' GPU patterns)."""
    for generation, patterns in (*GENERATIONS.items(), *((g, v[0]) for g, v in PUBLISHED.items())):
        if any(fnmatch.fnmatchcase(hw_id, p) for p in patterns):
            return generation
    return GENERIC


def family_map(engine: str) -> dict[str, str]:
    """A family's GPU pattern -> profile mapping, generic last."""
    out = {p: f"{engine}-{g}" for g, patterns in GENERATIONS.items() for p in patterns}
    out.update({p: f"{engine}-{g}" for g, v in PUBLISHED.items() for p in v[0]})
    out["*"] = f"{engine}-{GENERIC}"
    return out


def _evaluate_group(args: tuple[ModernParams, list[ServingPoint], float]) -> list[Result]:
    params, points, duration_s = args
    engine = engine_family(points[0])
    return evaluate(points, lambda hw: params.for_gpu(engine, hw), duration_s=duration_s)


def evaluate_params(params: ModernParams, points: Sequence[ServingPoint], pool: ProcessPoolExecutor,
                    duration_s: float = FIT_DURATION_S) -> list[Result]:
    """Every point predicted under `params`, one simulation per scenario, in the pool's processes."""
    groups: dict[object, list[ServingPoint]] = {}
    for p in points:
        groups.setdefault(scenario_for(p, duration_s), []).append(p)
    jobs = [(params, g, duration_s) for g in groups.values()]
    return [r for chunk in pool.map(_evaluate_group, jobs) for r in chunk]


def loss(results: Sequence[Result]) -> float:
    """Mean capped absolute log error; an unpredicted point (requests failed) counts the cap."""
    errors = [min(abs(math.log(r.predicted / r.point.value)), LOG_ERROR_CAP) if r.ok and r.predicted > 0
              else LOG_ERROR_CAP for r in results]
    return float(np.mean(errors)) if errors else 0.0


def _from_unit(u: np.ndarray) -> ModernParams:
    return ModernParams({k: lo + float(x) * (hi - lo) for (k, (lo, hi)), x in zip(BOUNDS.items(), u)})


def _to_unit(params: ModernParams) -> np.ndarray:
    return np.clip(np.array([(params.values[k] - lo) / (hi - lo) for k, (lo, hi) in BOUNDS.items()]), 0, 1)


def fit(points: Sequence[ServingPoint], start: ModernParams | None = None, iters: int = 150,
        workers: int = 2, duration_s: float = FIT_DURATION_S) -> tuple[ModernParams, list[Result]]:
    """Parameters minimising `loss` on `points` (Nelder-Mead from `start`), and the points' results under them.

    Always in worker processes: a fit registers trial profiles under the shipped names, which must
    not outlive it in the caller's process.
    """
    start = start or ModernParams(dict(START))
    with ProcessPoolExecutor(workers) as pool:
        def objective(u: np.ndarray) -> float:
            return loss(evaluate_params(_from_unit(u), points, pool, duration_s))

        params = _from_unit(nelder_mead(objective, np.clip(_to_unit(start), 0, 1), iters)) if iters > 0 else start
        return params, evaluate_params(params, points, pool, duration_s)
