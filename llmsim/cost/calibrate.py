"""Fit the named calibration profiles from measured points and report held-out errors."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import msgspec
import numpy as np

from llmsim.cost.calibration import CalibrationFile, CalibrationProfile, OpCalibration, shipped_calibration
from llmsim.cost.fitting import fit_profile, mape_pct, nelder_mead
from llmsim.cost.measurements import AllReduceSamples, Point, all_points, allreduce_samples
from llmsim.cost.prediction import OpBatch, predict_all

H100_LINK_BYTES_PER_S = 450e9  # one-way NVLink 4 bandwidth of nvidia_H100 in the hardware table
HW_TAGS: dict[str, str] = {"nvidia_A100_80G_SXM": "a100", "nvidia_H100": "h100"}
TOKEN_TILES: tuple[int, ...] = (1, 64, 128, 256)
OP_FIELDS = ("compute_efficiency", "memory_efficiency", "kernel_overhead_s")
ITERATION_FIELDS = ("iteration_overhead_s", "per_seq_overhead_s", "allreduce_efficiency", "attention_efficiency")
START = CalibrationProfile(name="start", compute_efficiency=0.7, memory_efficiency=0.8, kernel_overhead_s=5e-6,
                           iteration_overhead_s=3e-3, per_seq_overhead_s=0.0, allreduce_efficiency=0.6,
                           attention_efficiency=0.8)


def _measured(points: Sequence[Point]) -> np.ndarray:
    return np.array([pt.value for pt in points], dtype=np.float64)


def _fit_one_op(points: list[Point], tile: int) -> tuple[OpCalibration, float]:
    batch, measured = OpBatch(points), _measured(points)
    base = msgspec.structs.replace(START, token_tile=tile, operators={})
    prof = fit_profile(base, OP_FIELDS, batch.predict, measured, iters=150)
    fitted = OpCalibration(compute_efficiency=prof.compute_efficiency,
                           memory_efficiency=prof.memory_efficiency, kernel_overhead_s=prof.kernel_overhead_s)
    return fitted, mape_pct(batch.predict(prof), measured) * len(points)


def fit_operator_profile(name: str, train: list[Point], how: str) -> CalibrationProfile:
    """Per-operator efficiencies (Vidur-style points), with the token tile that fits best."""
    by_op: dict[str, list[Point]] = {}
    for pt in train:
        by_op.setdefault(pt.op, []).append(pt)
    best: tuple[float, int, dict[str, OpCalibration]] | None = None
    for tile in TOKEN_TILES:
        fits = {op: _fit_one_op(pts, tile) for op, pts in sorted(by_op.items())}
        err = sum(e for _, e in fits.values())
        if best is None or err < best[0]:
            best = (err, tile, {op: f for op, (f, _) in fits.items()})
    assert best is not None
    _, tile, ops = best
    gemms = [ops[op] for op in ("qkv_proj", "o_proj", "mlp_up_proj", "mlp_down_proj") if op in ops]
    return CalibrationProfile(
        name=name,
        compute_efficiency=float(np.median([g.compute_efficiency for g in gemms])),
        memory_efficiency=float(np.median([g.memory_efficiency for g in gemms])),
        kernel_overhead_s=float(np.median([g.kernel_overhead_s for g in gemms])),
        token_tile=tile,
        operators=ops,
        how=how,
    )


def fit_iteration_profile(
    base: CalibrationProfile, train: list[Point], fields: Sequence[str], name: str, how: str
) -> CalibrationProfile:
    """Fit `fields` of `base` to whole-iteration or whole-run points."""
    measured = _measured(train)
    prof = fit_profile(base, fields, lambda p: predict_all(train, p), measured, iters=120)
    return msgspec.structs.replace(prof, name=name, how=how)


def with_errors(profile: CalibrationProfile, train: list[Point], held_out: list[Point]) -> CalibrationProfile:
    """Record in-sample and held-out MAPE on the profile."""
    fit = mape_pct(predict_all(train, profile), _measured(train)) if train else None
    hold = mape_pct(predict_all(held_out, profile), _measured(held_out)) if held_out else None
    return msgspec.structs.replace(profile, fit_mape_pct=fit, holdout_mape_pct=hold)


TRT_FIELDS = ("compute_efficiency", "memory_efficiency", "iteration_overhead_s", "per_seq_overhead_s",
              "attention_efficiency", "allreduce_efficiency", "allreduce_latency_s")
def fit_allreduce(samples: AllReduceSamples, link_bytes_per_s: float) -> tuple[float, float, float, float]:
    """(efficiency, latency_s, fit MAPE, held-out MAPE) of latency + 2(n-1)/n * bytes / (link * eff)."""
    size, n, t = (np.array(x, dtype=np.float64) for x in (samples.size_bytes, samples.workers, samples.time_s))
    held = np.arange(len(t)) % 2 == 1
    ring = 2.0 * (n - 1) / n * size / link_bytes_per_s

    def model(x: np.ndarray) -> np.ndarray:
        return x[1] * 100e-6 + ring / (0.05 + 1.95 * x[0])

    def objective(x: np.ndarray) -> float:
        return mape_pct(model(x)[~held], t[~held])

    x = nelder_mead(objective, np.array([0.5, 0.2]), 200)
    return 0.05 + 1.95 * float(x[0]), float(x[1]) * 100e-6, objective(x), mape_pct(model(x)[held], t[held])


VLLM_FIELDS = ("per_layer_overhead_s", "per_seq_overhead_s", "allreduce_efficiency", "attention_efficiency")
GLOBAL_FIELDS = ("compute_efficiency", "memory_efficiency", *ITERATION_FIELDS)


def _split(points: list[Point], source: str, hardware: str | None = None) -> tuple[list[Point], list[Point]]:
    sel = [pt for pt in points if pt.source == source and (hardware is None or pt.hardware == hardware)]
    return [pt for pt in sel if not pt.holdout], [pt for pt in sel if pt.holdout]


def fit_all(points: list[Point], allreduce_h100: tuple[float, float] | None = None) -> list[CalibrationProfile]:
    """Every shipped profile: per-source fits plus the vLLM-class defaults, with their held-out errors.

    `allreduce_h100` = (efficiency, latency_s) measured on a DGX-H100: vidur-h100 carries it, and the
    TensorRT-LLM H100 fit starts from it.
    """
    out: list[CalibrationProfile] = []
    for hw, tag in HW_TAGS.items():
        fixed_ar = allreduce_h100 if tag == "h100" else None
        start = START if fixed_ar is None else msgspec.structs.replace(
            START, allreduce_efficiency=fixed_ar[0], allreduce_latency_s=fixed_ar[1])
        ar_note = "; all-reduce efficiency and latency from the DGX-H100 all-reduce profile" if fixed_ar else ""
        out += _fit_hardware(points, hw, tag, start, ar_note)
    train, held = _split(points, "sarathi")
    sarathi = fit_iteration_profile(START, train, GLOBAL_FIELDS, "sarathi-a100", how=(
        "global efficiencies and overheads fitted to the fit half of the Sarathi-Serve Yi-34B TP2 iteration times "
        "(2x A100-80GB PCIe with NVLink bridge; decode context assumed 1024 tokens)"))
    out.append(msgspec.structs.replace(with_errors(sarathi, train, held), hardware="nvidia_A100_80G_PCIe",
                                       source="sarathi"))
    return out


def _fit_hardware(
    points: list[Point], hw: str, tag: str, start: CalibrationProfile, ar_note: str
) -> list[CalibrationProfile]:
    out = []
    train, held = _split(points, "vidur", hw)
    vidur = fit_operator_profile(f"vidur-{tag}", train, how=(
        "per-operator compute/memory efficiency and launch overhead fitted (Nelder-Mead on MAPE) to the fit half "
        f"of the Vidur {tag.upper()} Llama-2-7B/70B operator profiles, TP 1-8; token tile chosen on the fit half"
        + ar_note))
    vidur = msgspec.structs.replace(vidur, allreduce_efficiency=start.allreduce_efficiency,
                                    allreduce_latency_s=start.allreduce_latency_s)
    out.append(msgspec.structs.replace(with_errors(vidur, train, held), hardware=hw, source="vidur"))
    train, held = _split(points, "splitwise", hw)
    split = fit_iteration_profile(START, train, GLOBAL_FIELDS, f"splitwise-{tag}", how=(
        "global efficiencies, iteration and per-sequence overheads, all-reduce and attention efficiency fitted to "
        f"the fit half of the Splitwise llama2-70b {tag.upper()} prompt_time/token_time means (TP 2/4/8)"))
    out.append(msgspec.structs.replace(with_errors(split, train, held), hardware=hw, source="splitwise"))
    vllm = fit_iteration_profile(vidur, train, VLLM_FIELDS, f"vllm-{tag}", how=(
        f"operator efficiencies of vidur-{tag} (vLLM kernels) plus per-layer and per-sequence overheads, all-reduce "
        f"and attention efficiency fitted to the fit half of the Splitwise {tag.upper()} points; the fixed cost "
        "is per layer so that it scales down for models smaller than the 80-layer Llama-2-70B it was fitted on"))
    out.append(msgspec.structs.replace(with_errors(vllm, train, held), hardware=hw, source="vidur+splitwise"))
    train, held = _split(points, "trtllm", hw)
    fits = [fit_iteration_profile(msgspec.structs.replace(start, gqa_shared_kv=shared), train,
                                  TRT_FIELDS, f"trtllm-{tag}", how=(
        "global efficiencies, attention efficiency, iteration and per-sequence overhead, all-reduce efficiency and latency "
        f"fitted to the fit half of the TensorRT-LLM v0.5/v0.6.1 performance-doc points on {tag.upper()} with a "
        "known batch; GQA K/V sharing in attention kernels chosen on the fit half"))
        for shared in (True, False)]
    trt = min(fits, key=lambda prof: mape_pct(predict_all(train, prof), _measured(train)))
    out.append(msgspec.structs.replace(with_errors(trt, train, held), hardware=hw, source="trtllm"))
    return out


DEFAULT_MAP: dict[str, str] = {
    "nvidia_H100*": "vllm-h100",
    "nvidia_H200": "vllm-h100",
    "nvidia_B200": "vllm-h100",
    "amd_MI300X": "vllm-h100",
    "*": "vllm-a100",
}

ABOUT = (
    "Calibration profiles fitted by `llmsim calibrate --data <shared data folder>` (llmsim/cost/calibrate.py). "
    "Each source's points are split in load order into a fit half and a held-out half (fit, held, held, fit, ...); "
    "parameters minimise the mean absolute percentage error on the fit half with a Nelder-Mead search; "
    "fit_mape_pct / holdout_mape_pct are the errors on each half. Each entry of `families` maps GPU ids (first "
    "matching pattern) to a profile; `default` names the family `--calibration default` uses. `vllm-2023` is "
    "vLLM 0.2-era (2023): Vidur-measured kernel efficiencies plus iteration overheads fitted on Splitwise "
    "whole-iteration times. The `vllm-v1` and `vllm-v0` families (today's engines) are fitted by "
    "scripts/fit_modern.py on the modern serving points and kept as they are by `llmsim calibrate`. "
    "Efficiencies are fractions of the hardware table's peaks."
)


LEGACY_FAMILY = "vllm-2023"


def build_calibration(data_root: Path) -> CalibrationFile:
    """Fit every profile from a shared `data/` folder."""
    points = all_points(data_root)
    eff, lat, fit_err, held_err = fit_allreduce(
        allreduce_samples(data_root / "profiles" / "h100_dgx_all_reduce.csv"), H100_LINK_BYTES_PER_S)
    profiles = fit_all(points, (eff, lat))
    ar = {"efficiency": eff, "latency_s": lat, "fit_mape_pct": fit_err, "holdout_mape_pct": held_err}
    shipped = shipped_calibration()
    families = {name: m for name, m in shipped.families.items() if name != LEGACY_FAMILY}
    kept = [p for p in shipped.profiles if p.name in {n for m in families.values() for n in m.values()}]
    return CalibrationFile(about=ABOUT, default=shipped.default, families={LEGACY_FAMILY: DEFAULT_MAP, **families},
                           profiles=profiles + kept, allreduce_fit=ar, modern_fit=shipped.modern_fit)

