"""stats.json's `run` section: the resolved configuration, the trace's identity, the cluster, llmsim's version."""

from __future__ import annotations

import hashlib
from collections import Counter
from functools import cache
from pathlib import Path
from typing import Any

import msgspec

from llmsim.config import Environment
from llmsim.options import ReplayOptions
from llmsim.workload.canonical import VERSION_KEY

CHUNK = 1 << 20


def file_identity(path: str) -> dict[str, Any]:
    """Path, size, SHA-256 and non-blank line count of a file."""
    from llmsim.inputs import local_path

    digest = hashlib.sha256()
    lines = size = 0
    first = b""
    with open(local_path(path), "rb") as f:  # stdin and FIFOs: the copy the run read
        for line in f:
            digest.update(line)
            size += len(line)
            if line.strip():
                lines += 1
                first = first or line
    return {"path": path, "size_bytes": size, "sha256": digest.hexdigest(), "lines": lines, "first": first}


def trace_identity(path: str, trace_format: str) -> dict[str, Any]:
    """The trace's identity: file identity, format, and its request count (data lines, less a CSV header)."""
    from llmsim.workload.formats import detect_format

    ident = file_identity(path)
    fmt = detect_format(path) if trace_format == "auto" else trace_format
    lines, first = ident.pop("lines"), ident.pop("first")
    header = fmt in ("azure", "burstgpt", "vidur") or (fmt == "llmsim" and VERSION_KEY.encode() in first)
    ident["format"] = fmt
    ident["requests"] = lines - 1 if header and lines else lines
    return ident


def cluster_gpus(env: Environment) -> dict[str, int]:
    """GPUs of each type in the cluster at the start of the run."""
    gpus: Counter[str] = Counter()
    for node in env.nodes:
        gpus.update(dict(zip(node.gpu_types, node.gpu_count_per_type)))
    return dict(sorted(gpus.items()))


@cache
def llmsim_identity() -> dict[str, str]:
    """The package version and which build (plain Python or compiled) runs."""
    from importlib.metadata import PackageNotFoundError, version

    from llmsim.buildinfo import describe

    try:
        number = version("llmsim")
    except PackageNotFoundError:
        from llmsim import __version__ as number
    return {"version": number, "build": describe()}


def run_section(opts: ReplayOptions, env: Environment) -> dict[str, Any]:
    """What ran: every option as resolved, what the trace and cluster files were, which llmsim, which seed."""
    files = {name: file_identity(p) for name in ("environment", "environment_change_file", "hardware_file")
             if (p := getattr(opts, name)) and Path(p).is_file()}
    for ident in files.values():
        ident.pop("lines"), ident.pop("first")
    gpus = cluster_gpus(env)
    return {
        "config": msgspec.to_builtins(opts),
        "trace": trace_identity(opts.input, opts.trace_format),
        "files": files,
        "cluster": {"gpus": gpus, "total_gpus": sum(gpus.values())},
        "llmsim": llmsim_identity(),
        "seed": opts.seed,
    }
