"""One output file written whole or not at all: checked first, written beside its target, renamed into place."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from llmsim.errors import OutputError
from llmsim.output.output_paths import OutputTarget, check_file, check_folder, check_targets

TEMP_SUFFIX = ".llmsim-tmp"


def check_output_file(path: str | Path, option: str, inputs: Iterable[tuple[str, str | None]] = ()) -> None:
    """Refuse, without touching the disk, an output path that is a link, not a file, or one of `inputs`."""
    target = OutputTarget("output", Path(path), option)
    check_folder(target.path.parent, option)
    check_file(target)
    check_targets([target], [(o, p) for o, p in inputs if p])


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def temp_beside(path: Path, suffix: str = TEMP_SUFFIX) -> Path:
    """A new, empty temporary file in `path`'s folder, with the permissions a new file would get."""
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~_umask())
    finally:
        os.close(fd)
    return Path(name)


@contextmanager
def atomic_output(path: str | Path, option: str, inputs: Iterable[tuple[str, str | None]] = (),
                  suffix: str = TEMP_SUFFIX) -> Iterator[IO[bytes]]:
    """A binary handle whose bytes replace `path` only when the block ends without an error."""
    target = Path(path)
    check_output_file(target, option, inputs)
    try:
        temp = temp_beside(target, suffix)
    except OSError as err:
        raise OutputError(f"cannot write: {err.strerror or err}", file=str(path), field=option) from None
    try:
        with open(temp, "wb") as handle:
            yield handle
        check_file(OutputTarget("output", target, option))
        os.replace(temp, target)
    except OSError as err:
        temp.unlink(missing_ok=True)
        raise OutputError(f"cannot write: {err.strerror or err}", file=str(path), field=option) from None
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
