"""Measured GPU timings from the shared data formats, as points the cost model can predict."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec

# Vidur operator column -> llmsim operator name.
VIDUR_OPS: dict[str, str] = {
    "input_layernorm": "input_layernorm",
    "attn_pre_proj": "qkv_proj",
    "attn_rope": "rope",
    "attn_post_proj": "o_proj",
    "post_attention_layernorm": "post_attention_layernorm",
    "mlp_up_proj": "mlp_up_proj",
    "mlp_act": "mlp_act",
    "mlp_down_proj": "mlp_down_proj",
    "add": "residual_add",
}

_HW_ALIASES: dict[str, str] = {
    "a100": "nvidia_A100_80G_SXM",
    "a100-80gb": "nvidia_A100_80G_SXM",
    "h100": "nvidia_H100",
    "h100-80gb": "nvidia_H100",
    "h100 sxm": "nvidia_H100",
    "h200": "nvidia_H200",
}

_MODEL_ALIASES: dict[str, str] = {
    "llama2-70b": "llama-2-70b-hf",
    "llama(2) 70b": "llama-2-70b-hf",
    "llama(2) 7b": "llama-2-7b-hf",
    "llama-2-70b": "llama-2-70b-hf",
    "llama-2-7b": "llama-2-7b-hf",
    "yi-34b": "yi-34b",
}

# Sarathi-Serve fig2/table2 do not state decode context lengths; we assume this many cached tokens.
SARATHI_DECODE_CTX = 1024
# Sarathi ran on 2x A100-80GB PCIe joined pairwise by NVLink bridges (600 GB/s bidirectional).
SARATHI_HW = "nvidia_A100_80G_PCIe+nvlink"


class Point(msgspec.Struct, frozen=True, kw_only=True):
    """One measurement: what ran, where, and the measured value (seconds, or tokens/s for throughput)."""

    source: str  # vidur | splitwise | sarathi | trtllm
    label: str
    hardware: str
    model: str
    tp: int = 1
    dtype: str = "fp16"
    kind: str  # op | prefill | decode | mixed | throughput
    op: str = ""
    tokens: int = 0
    batch: int = 1
    input_len: int = 0
    output_len: int = 0
    context_len: int = 0
    num_gpus: int = 1
    value: float
    holdout: bool = False  # True: never used for fitting, only for the reported error


def _f(row: dict[str, str], key: str) -> float:
    return float(row[key])


def vidur_points(folder: Path) -> Iterator[Point]:
    """Per-operator medians (ms per layer) from `{a100,h100}_Llama-2-{7b,70b}-hf_mlp.csv`."""
    for path in sorted(folder.glob("*_Llama-2-*_mlp.csv")):
        gpu, model = path.stem.split("_", 1)
        model = model.removesuffix("_mlp").lower()
        with path.open(newline="") as fh:
            for row in csv.DictReader(fh):
                tokens, tp = int(row["num_tokens"]), int(row["num_tensor_parallel_workers"])
                for col, op in VIDUR_OPS.items():
                    yield Point(source="vidur", label=f"{gpu}/{model}/tp{tp}/{op}/{tokens}",
                                hardware=_HW_ALIASES[gpu], model=model, tp=tp, kind="op", op=op,
                                tokens=tokens, value=_f(row, f"time_stats.{col}.median") / 1e3)


def splitwise_points(path: Path) -> Iterator[Point]:
    """Mean prompt_time and token_time per configuration of llama2-70b on DGX A100/H100."""
    groups: dict[tuple[str, str, str, str, str, str], list[dict[str, str]]] = {}
    with path.open(newline="") as fh:
        for row in csv.DictReader(fh):
            if row["model"] in _MODEL_ALIASES and row["hardware"] in _HW_ALIASES:
                key = (row["model"], row["hardware"], row["tensor_parallel"], row["prompt_size"],
                       row["batch_size"], row["token_size"])
                groups.setdefault(key, []).append(row)
    for key, rows in sorted(groups.items()):
        model, hw, tp, prompt, batch, out = key
        common: dict[str, Any] = dict(source="splitwise", hardware=_HW_ALIASES[hw], model=_MODEL_ALIASES[model],
                      tp=int(tp), batch=int(batch), input_len=int(prompt), output_len=int(out))
        name = f"{hw}/tp{tp}/p{prompt}/b{batch}/o{out}"
        prompt_ms = sum(_f(r, "prompt_time") for r in rows) / len(rows)
        token_ms = sum(_f(r, "token_time") for r in rows) / len(rows)
        if not (int(batch) == 64 and int(tp) == 2):  # the data README flags these as implausible
            yield Point(label=name + "/prompt", kind="prefill", value=prompt_ms / 1e3, **common)
        yield Point(label=name + "/token", kind="decode", context_len=int(prompt) + int(out) // 2,
                    value=token_ms / 1e3, **common)


def sarathi_points(folder: Path) -> Iterator[Point]:
    """Yi-34B TP2 iteration times from Sarathi-Serve fig2 (seconds) and table2 (ms)."""
    common: dict[str, Any] = dict(source="sarathi", hardware=SARATHI_HW, model="yi-34b", tp=2, num_gpus=2)
    for name in ("fig2_decode_yi34b_2xA100.csv", "fig2_prefill_yi34b_2xA100.csv"):
        with (folder / name).open(newline="") as fh:
            for row in csv.DictReader(fh):
                dec, pre = int(row["batch_num_decode_tokens"]), int(row["batch_num_prefill_tokens"])
                yield Point(label=f"fig2/d{dec}/p{pre}", kind="mixed", batch=dec, tokens=pre,
                            context_len=SARATHI_DECODE_CTX, value=_f(row, "batch_execution_time"), **common)
    with (folder / "table2_yi34b_2xA100.csv").open(newline="") as fh:
        for row in csv.DictReader(fh):
            dec, pre = int(row["batch_num_decode_tokens"]), int(row["batch_num_prefill_tokens"])
            yield Point(label=f"table2/d{dec}/p{pre}", kind="mixed", batch=dec, tokens=pre,
                        context_len=SARATHI_DECODE_CTX, value=_f(row, "batch_execution_time") / 1e3, **common)


def trtllm_points(path: Path) -> Iterator[Point]:
    """TensorRT-LLM rows of measured_points.csv with a known batch (ttft and static-batch throughput)."""
    with path.open(newline="") as fh:
        for i, row in enumerate(csv.DictReader(fh)):
            if not row["source_id"].startswith("TRTLLM") or not row["batch_size"].isdigit():
                continue
            model = _MODEL_ALIASES.get(row["model"].lower())
            hw = _HW_ALIASES.get(row["gpu"].lower())
            if model is None or hw is None:
                continue
            common: dict[str, Any] = dict(source="trtllm", hardware=hw, model=model, tp=int(row["tp"]),
                          dtype=row["precision"].lower(), num_gpus=int(row["num_gpus"]),
                          batch=int(row["batch_size"]), input_len=int(row["input_len"]),
                          output_len=int(row["output_len"]))
            label = f"csv{i + 2}/{row['model']}/{row['gpu']}/{row['metric']}/b{row['batch_size']}/{row['input_len']}"
            value = float(row["value"])
            if row["metric"] == "ttft":
                yield Point(label=label, kind="prefill", value=value / 1e3, **common)
            elif row["metric"].startswith("output_throughput"):
                per_gpu = row["metric"].endswith("per_gpu") or "per-GPU" in row["notes"]
                yield Point(label=label, kind="throughput", value=value * (common["num_gpus"] if per_gpu else 1),
                            **common)


def summary_points(path: Path) -> Iterator[Point]:
    """Splitwise, Sarathi and Vidur rows of measured_points.csv (transcribed summaries)."""
    with path.open(newline="") as fh:
        for i, row in enumerate(csv.DictReader(fh)):
            sid, value = row["source_id"], float(row["value"])
            label = f"csv{i + 2}/{row['metric']}/{row['gpu']}/b{row['batch_size']}/{row['input_len']}"
            if sid == "SPLITWISE_perf":
                common: dict[str, Any] = dict(source="splitwise", hardware=_HW_ALIASES[row["gpu"].split(" ")[0].lower()],
                              model="llama-2-70b-hf", tp=int(row["tp"]), batch=int(row["batch_size"]),
                              input_len=int(row["input_len"]), output_len=int(row["output_len"]))
                if row["metric"] == "prompt_time":
                    yield Point(label=label, kind="prefill", value=value / 1e3, **common)
                else:
                    ctx = common["input_len"] + common["output_len"] // 2
                    yield Point(label=label, kind="decode", context_len=ctx, value=value / 1e3, **common)
            elif sid == "SARATHI_fig2":
                decode = row["input_len"] == "decode"
                yield Point(source="sarathi", label=label, hardware=SARATHI_HW, model="yi-34b", tp=2, num_gpus=2,
                            kind="mixed", batch=int(row["batch_size"]) if decode else 0,
                            tokens=0 if decode else int(row["input_len"]), context_len=SARATHI_DECODE_CTX,
                            value=value / 1e3)
            elif sid == "VIDUR_mlp":
                model = "llama-2-7b-hf" if "7B" in row["model"] else "llama-2-70b-hf"
                yield Point(source="vidur", label=label, hardware=_HW_ALIASES[row["gpu"].lower()], model=model,
                            kind="op", op="mlp_up_proj", tokens=int(row["input_len"].split()[0]), value=value / 1e3)


def _split(points: list[Point]) -> list[Point]:
    """Split each (source, kind) in load order as fit, held, held, fit, ... (pairs alternate)."""
    counters: dict[tuple[str, str], int] = {}
    out = []
    for pt in points:
        key = (pt.source, pt.kind if pt.source != "vidur" else pt.op)
        n = counters.get(key, 0)
        counters[key] = n + 1
        out.append(msgspec.structs.replace(pt, holdout=(n + n // 2) % 2 == 1))
    return out


def all_points(data_root: Path) -> list[Point]:
    """Every usable point under a shared `data/` folder (profiles/ and measured/), split fit/held-out."""
    profiles, measured = data_root / "profiles", data_root / "measured" / "measured_points.csv"
    points = list(vidur_points(profiles))
    points += splitwise_points(profiles / "splitwise_perf_model.csv")
    points += sarathi_points(profiles)
    points += trtllm_points(measured)
    points += summary_points(measured)
    return _split(points)


class AllReduceSamples(msgspec.Struct, frozen=True):
    """Median all-reduce times on a DGX-H100: message bytes, group size, seconds."""

    size_bytes: list[float]
    workers: list[int]
    time_s: list[float]


def allreduce_samples(path: Path) -> AllReduceSamples:
    """Read `h100_dgx_all_reduce.csv` (size is a count of FP16 elements; times in ms)."""
    sizes, workers, times = [], [], []
    with path.open(newline="") as fh:
        for row in csv.DictReader(fh):
            sizes.append(2.0 * float(row["size"]))
            workers.append(int(row["num_workers"]))
            times.append(float(row["time_stats.all_reduce.median"]) / 1e3)
    return AllReduceSamples(sizes, workers, times)
