"""The outputs of a run as one transaction: temporary files beside their targets, renamed into place at the end.

`OutputSet(...)` only works out and checks the paths (nothing on disk changes, so a refused run
leaves the folder as it was); `open()` creates the folders, locks them and opens the writers on
temporary files; `commit(stats)` writes stats.json and renames every file into place (stats.json
last); `abort()` removes the temporary files, and any folder the run created, leaving earlier
outputs untouched.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import orjson

from llmsim.errors import OutputError
from llmsim.output.atomic_file import temp_beside
from llmsim.output.chrome_trace import DEFAULT_DETAIL, ChromeTraceWriter
from llmsim.output.event_log import EventLogWriter
from llmsim.output.folder_lock import FolderLock
from llmsim.output.output_paths import OutputTarget, check_file, check_folder, check_targets
from llmsim.output.requests_log import RequestsWriter

def _target(out_dir: Path, name: str, given: str | None, default: str, option: str) -> OutputTarget:
    if given:
        return OutputTarget(name, Path(given), option)
    return OutputTarget(name, out_dir / default, "--output-dir")


class OutputSet:
    """events.jsonl, requests.jsonl, trace.json and stats.json of one run."""

    def __init__(self, out_dir: str, *, enabled: bool = True, trace_detail: str = DEFAULT_DETAIL,
                 trace_output: str | None = None, stats_output: str | None = None,
                 events_output: str | None = None, requests_output: str | None = None,
                 inputs: Iterable[tuple[str, str | None]] = ()) -> None:
        self.dir = Path(out_dir)
        self.enabled, self.trace_detail = enabled, trace_detail
        self.events = _target(self.dir, "events output", events_output, "events.jsonl", "--events-output")
        self.requests = _target(self.dir, "requests output", requests_output, "requests.jsonl", "--requests-output")
        self.trace = _target(self.dir, "trace output", trace_output, "trace.json", "--trace-output")
        self.stats = _target(self.dir, "stats output", stats_output, "stats.json", "--stats-output")
        self.events_path, self.requests_path = self.events.path, self.requests.path
        self.trace_path, self.stats_path = self.trace.path, self.stats.path
        self.sinks: list[Any] = []
        self._temps: dict[str, Path] = {}
        self._locks: list[FolderLock] = []
        self._created: list[Path] = []
        if enabled:
            self._check([(option, path) for option, path in inputs if path])

    def targets(self) -> list[OutputTarget]:
        """The files this run will write."""
        out = [self.events, self.requests]
        if self.trace_detail != "off":
            out.append(self.trace)
        return [*out, self.stats]

    def _folders(self) -> list[tuple[Path, str]]:
        found: dict[str, tuple[Path, str]] = {}
        for t in self.targets():
            found.setdefault(os.path.abspath(t.path.parent), (t.path.parent, t.option))
        return [found[key] for key in sorted(found)]

    def _check(self, inputs: list[tuple[str, str]]) -> None:
        """Refuse, before anything is written, paths the run must not write to."""
        for folder, option in self._folders():
            check_folder(folder, option)
        for target in self.targets():
            check_file(target)
        check_targets(self.targets(), inputs)

    # ---- the transaction ------------------------------------------------------------------
    def open(self) -> None:
        """Create and lock the folders, open every writer on a temporary file."""
        if not self.enabled:
            return
        try:
            for folder, option in self._folders():
                self._make_folder(folder)
                lock = FolderLock(folder, option)
                lock.acquire()
                self._locks.append(lock)
            self.sinks.append(EventLogWriter(self._temp(self.events)))
            self.sinks.append(RequestsWriter(self._temp(self.requests)))
            if self.trace_detail != "off":
                self.sinks.append(ChromeTraceWriter(self._temp(self.trace), detail=self.trace_detail))
        except OSError as err:
            self.abort()
            raise OutputError(f"cannot write output: {err.strerror}", file=str(err.filename or self.dir)) from None
        except BaseException:
            self.abort()
            raise

    def _make_folder(self, folder: Path) -> None:
        missing = []
        probe = folder
        while not os.path.lexists(probe) and probe != probe.parent:
            missing.append(probe)
            probe = probe.parent
        for path in reversed(missing):
            try:
                path.mkdir()
            except FileExistsError:
                continue  # another process made it meanwhile: not ours to remove
            self._created.append(path)

    def _temp(self, target: OutputTarget) -> Path:
        path = self._temps[target.name] = temp_beside(target.path)
        return path

    def close(self) -> None:
        """Flush and close every writer (whole lines, valid JSON); files stay temporary until commit."""
        sinks, self.sinks = self.sinks, []
        for sink in sinks:
            sink.close()

    def commit(self, stats: dict[str, Any]) -> None:
        """Write stats.json and rename every output into place (stats.json last), then unlock."""
        if not self.enabled:
            return
        try:
            self.close()
            path = self._temp(self.stats)
            path.write_bytes(orjson.dumps(stats, option=orjson.OPT_INDENT_2) + b"\n")
            for target in self.targets():
                check_file(target)  # a link planted during the run is refused, not written through
                os.replace(self._temps.pop(target.name), target.path)
        except OSError as err:
            self.abort()
            raise OutputError(f"cannot write output: {err.strerror}", file=str(err.filename or self.dir)) from None
        except BaseException:
            self.abort()
            raise
        self._created.clear()
        self._release()

    def abort(self) -> None:
        """Drop the temporary files and the folders this run created; earlier outputs stay as they were."""
        try:
            self.close()
        except OSError:
            pass
        for path in self._temps.values():
            try:
                path.unlink()
            except OSError:
                pass
        self._temps.clear()
        for folder in reversed(self._created):
            try:
                folder.rmdir()
            except OSError:
                break
        self._created.clear()
        self._release()

    def _release(self) -> None:
        for lock in self._locks:
            lock.release()
        self._locks.clear()
