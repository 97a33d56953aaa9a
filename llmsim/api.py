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
