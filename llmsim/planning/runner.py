"""Run many configurations in parallel, each at most once: results are kept by configuration hash."""

from __future__ import annotations

import hashlib
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

import msgspec
import orjson

from llmsim.errors import LlmsimError
from llmsim.options import ReplayOptions
from llmsim.output.run_section import file_identity, llmsim_identity
from llmsim.planning.backends import run_all

# Options that change where and how outputs are written, never what the simulation computes.
OUTPUT_FIELDS = frozenset({"output_dir", "trace_output", "stats_output", "events_output", "requests_output",
                           "trace_detail", "write_outputs", "print_interval", "quiet"})
FILE_FIELDS = ("input", "environment", "environment_change_file", "hardware_file")


class PointResult(msgspec.Struct, kw_only=True):
    """One configuration's outcome: its statistics, or the one-line error that stopped it."""

    key: str
    stats: dict[str, Any] | None = None
    error: str | None = None
    cached: bool = False


_digests: dict[tuple[str, int, int], str] = {}


def _digest(path: str) -> str:
    st = os.stat(path)
    key = (os.path.abspath(path), st.st_mtime_ns, st.st_size)
    if key not in _digests:
        _digests[key] = file_identity(path)["sha256"]
    return _digests[key]


def config_hash(opts: ReplayOptions) -> str:
    """A short hash of everything that decides a run's results: options, input file contents, llmsim version."""
    config = {k: v for k, v in msgspec.to_builtins(opts).items() if k not in OUTPUT_FIELDS}
    files = {name: _digest(p) for name in FILE_FIELDS if (p := getattr(opts, name)) and os.path.isfile(p)}
    doc = {"config": config, "files": files, "llmsim": llmsim_identity()["version"]}
    return hashlib.sha256(orjson.dumps(doc, option=orjson.OPT_SORT_KEYS)).hexdigest()[:16]


def execute(opts: ReplayOptions) -> dict[str, Any]:
    """Run one configuration (in a worker): {"stats": ...} or {"error": one line}."""
    from llmsim.replay import run_replay

    try:
        result = run_replay(opts)
    except LlmsimError as err:
        return {"error": err.one_line()}
    except Exception as err:  # a bug in llmsim: report it on the point's row, keep the sweep going
        return {"error": f"{type(err).__name__}: {err}"}
    if result.signal:
        return {"error": "interrupted"}
    return {"stats": result.stats}


class Runner:
    """Runs configurations on a backend; a configuration already run under `out_dir` is not run again."""

    def __init__(self, out_dir: str | Path, *, backend: str = "process", workers: int | None = None,
                 address: str | None = None, per_point_outputs: bool = False, progress: bool = False) -> None:
        self.dir = Path(out_dir)
        self.backend, self.workers, self.address = backend, workers, address
        self.per_point_outputs = per_point_outputs
        self.progress = progress
        self.runs = 0  # configurations simulated by this runner (cached ones not counted)

    def point_dir(self, key: str) -> Path:
        """The folder of one configuration's results."""
        return self.dir / "points" / key

    def cached(self, key: str) -> dict[str, Any] | None:
        """The stored statistics of a configuration that ran to the end, or None."""
        try:
            stats = orjson.loads((self.point_dir(key) / "stats.json").read_bytes())
        except (OSError, orjson.JSONDecodeError):
            return None
        return stats if isinstance(stats, dict) and stats.get("complete") and "run" in stats else None

    def run(self, configs: Sequence[ReplayOptions]) -> list[PointResult]:
        """Results in the order of `configs` (identical configurations run once)."""
        keys = [config_hash(o) for o in configs]
        found = {k: PointResult(key=k, stats=s, cached=True) for k in set(keys) if (s := self.cached(k)) is not None}
        todo: dict[str, ReplayOptions] = {}
        for key, opts in zip(keys, configs):
            if key not in found and key not in todo:
                todo[key] = self._for_worker(opts, key)
        bar = SweepProgress(len(set(keys)), cached=len(found), enabled=self.progress)
        order = list(todo)
        for i, outcome in run_all(execute, list(todo.values()), backend=self.backend, workers=self.workers,
                                  address=self.address):
            key = order[i]
            found[key] = PointResult(key=key, stats=outcome.get("stats"), error=outcome.get("error"))
            if found[key].stats is not None:
                self._store(key, outcome["stats"])
            self.runs += 1
            bar.update(error=found[key].error is not None)
        bar.close()
        return [found[k] for k in keys]

    def _for_worker(self, opts: ReplayOptions, key: str) -> ReplayOptions:
        where = str(self.point_dir(key))
        return msgspec.structs.replace(opts, output_dir=where, write_outputs=self.per_point_outputs, quiet=True,
                                       print_interval=0.0, trace_output=None, stats_output=None,
                                       events_output=None, requests_output=None)

    def _store(self, key: str, stats: dict[str, Any]) -> None:
        """Write stats.json whole (a temporary file renamed), so an interrupted sweep leaves no half file."""
        folder = self.point_dir(key)
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f".stats.json.{os.getpid()}.tmp"
        tmp.write_bytes(orjson.dumps(stats, option=orjson.OPT_INDENT_2) + b"\n")
        os.replace(tmp, folder / "stats.json")


class SweepProgress:
    """A progress bar on stderr (a terminal only): points done, cached, errors, elapsed and left."""

    WIDTH = 24

    def __init__(self, total: int, *, cached: int = 0, enabled: bool = True, stream: TextIO | None = None) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = enabled and self.stream.isatty()
        self.total, self.cached, self.done, self.errors = total, cached, cached, 0
        self.start = time.perf_counter()
        self._draw()

    def update(self, *, error: bool = False) -> None:
        """One more point finished."""
        self.done += 1
        self.errors += error
        self._draw()

    def line(self) -> str:
        """The bar's text."""
        filled = self.WIDTH * self.done // max(self.total, 1)
        elapsed = time.perf_counter() - self.start
        run = self.done - self.cached
        left = elapsed / run * (self.total - self.done) if run else 0.0
        return (f"sweep [{'#' * filled}{'.' * (self.WIDTH - filled)}] {self.done}/{self.total} points "
                f"({self.cached} cached, {self.errors} errors) {elapsed:.0f} s, ~{left:.0f} s left")

    def _draw(self) -> None:
        if self.enabled:
            self.stream.write("\r" + self.line() + "\x1b[K")
            self.stream.flush()

    def close(self) -> None:
        """End the line."""
        if self.enabled:
            self.stream.write("\n")
            self.stream.flush()
