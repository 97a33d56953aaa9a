"""Checks on where a run will write, made before anything is touched: no links, no inputs, no clashes."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from pathlib import Path

from llmsim.errors import OutputError


class OutputTarget:
    """One output file: its final path and the option that chose it (named in errors)."""

    __slots__ = ("name", "path", "option")

    def __init__(self, name: str, path: Path, option: str) -> None:
        self.name, self.path, self.option = name, path, option


def _nearest_existing(path: Path) -> Path:
    """The closest ancestor of `path` (or `path` itself) that exists."""
    probe = path
    while not os.path.lexists(probe) and probe != probe.parent:
        probe = probe.parent
    return probe


def check_folder(folder: Path, option: str) -> None:
    """A folder that is, or can become, a writable folder; raise OutputError otherwise."""
    existing = _nearest_existing(folder)
    if not existing.is_dir():
        what = "a file, not a folder" if existing == folder else f"inside {existing}, which is not a folder"
        raise OutputError(f"cannot write output: {what}", file=str(existing if existing != folder else folder),
                          field=option, expected="a folder path (or a path that does not exist yet)")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise OutputError("cannot write output: permission denied", file=str(existing), field=option,
                          expected="a folder you can write to")


def check_file(target: OutputTarget) -> None:
    """An output file that is absent or a regular file (never a link, folder, FIFO or device)."""
    path = target.path
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return
    except NotADirectoryError:
        return  # check_folder reports the parent
    except OSError as err:
        raise OutputError(f"cannot write output: {err.strerror}", file=str(path), field=target.option) from None
    if stat.S_ISLNK(info.st_mode):
        raise OutputError("is a symbolic link; llmsim never writes through links", file=str(path),
                          field=target.option, expected="a regular file or a new path; remove the link first")
    if stat.S_ISDIR(info.st_mode):
        raise OutputError("is a folder", file=str(path), field=target.option, expected="a file path")
    if not stat.S_ISREG(info.st_mode):
        raise OutputError("is not a regular file (a FIFO, socket or device)", file=str(path), field=target.option,
                          expected="a regular file or a new path")


def _identity(path: Path) -> tuple[str, object]:
    """What makes two paths the same file: (device, inode) when it exists, else the resolved path."""
    try:
        info = os.stat(path)
        return ("inode", (info.st_dev, info.st_ino))
    except OSError:
        return ("path", os.path.realpath(path))


def check_targets(targets: list[OutputTarget], inputs: Iterable[tuple[str, str]]) -> None:
    """Every output distinct from the others and from every input (option, path); raise OutputError."""
    seen: dict[tuple[str, object], OutputTarget] = {}
    for target in targets:
        key = _identity(target.path)
        other = seen.get(key) or seen.get(("path", os.path.realpath(target.path)))
        if other is not None:
            raise OutputError(f"is both the {other.name} and the {target.name}", file=str(target.path),
                              field=target.option, expected="a different path for each output")
        seen[key] = target
        seen[("path", os.path.realpath(target.path))] = target
    for option, given in inputs:
        if not given or not os.path.exists(given):
            continue
        key = _identity(Path(given))
        clash = seen.get(key) or seen.get(("path", os.path.realpath(given)))
        if clash is not None:
            raise OutputError(f"is the {option} input; writing the {clash.name} here would overwrite it",
                              file=str(clash.path), field=clash.option,
                              expected="an output path that is not an input")
