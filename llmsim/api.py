"""The Python API: run one configuration, or a sweep, and get the statistics back (the CLI is a thin layer)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import msgspec

from llmsim.options import ReplayOptions


def simulate(config: ReplayOptions | Mapping[str, Any] | str | Path | None = None, /, *,
             output_dir: str | None = None, **options: Any) -> dict[str, Any]:
    """Run one configuration and return its statistics: the stats.json document, `run` section included.

    `config` is a ReplayOptions, a mapping of option names (the keys of a `--config` file), or the
    path of a TOML run configuration; keyword `options` override it (e.g. `arrival_rate=4`).
    Nothing is written unless `output_dir` is given (then the usual outputs go there). Bad input
    raises llmsim.errors.LlmsimError, whose `one_line()` names the file and field.

        >>> stats = simulate({"input": "trace.jsonl", "n_engines": 4, "hardware": "nvidia_H100"})
        >>> stats["latency"]["ttft_s"]["p99"]
    """
    from llmsim.replay import run_replay
    from llmsim.runconfig import config_fields, read_config, resolve_options

    if isinstance(config, ReplayOptions):
        base = {k: v for k, v in msgspec.structs.asdict(config).items()}
    elif isinstance(config, (str, Path)):
        base = read_config(str(config))
    else:
        base = config_fields(config or {}, "<configuration>")
    overrides = config_fields(options, "<keyword arguments>")
    outputs = {"output_dir": output_dir, "write_outputs": True} if output_dir else {"write_outputs": False}
    opts = resolve_options(base, {"quiet": True, **overrides, **outputs})
    return run_replay(opts).stats


def sweep(spec: Any, out_dir: str | Path, *, workers: int | None = None, backend: str = "process",
          address: str | None = None, prices: str | None = None, per_point_outputs: bool = False) -> list[dict[str, Any]]:
    """Run a sweep and return its rows (one dict a point, in spec order; the columns of sweep.csv).

    `spec` is the path of a sweep TOML file or a mapping with its tables:

        >>> rows = sweep({"base": {"input": "trace.jsonl", "arrival_rate": 10},
        ...               "axes": {"hardware": ["nvidia_H100", "nvidia_A100_80G_SXM"], "n_engines": [2, 4]}},
        ...              ".local/sweeps/mine", workers=2)

    Points already run under `out_dir` (same configuration hash) are reused, not run again.
    `backend="ray"` runs the points as Ray tasks (`address` of a cluster, or a local Ray).
    """
    from llmsim.planning.sweep import run_sweep

    return run_sweep(spec, out_dir, backend=backend, workers=workers, address=address, prices=prices,
                     per_point_outputs=per_point_outputs).rows
