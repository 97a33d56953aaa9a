"""Where a run's events live and how to stream them back, one line at a time."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import msgspec

from llmsim.errors import InputFileError
from llmsim.inputs import bounded_lines, open_input
from llmsim.output.events import AnyEvent, Event

EVENTS_FILE = "events.jsonl"


def events_path(run: str | Path) -> Path:
    """An events.jsonl file, or the one inside a run folder."""
    path = Path(run)
    if path.is_dir():
        path = path / EVENTS_FILE
    if not path.is_file():
        raise InputFileError("no event log here (expected an events.jsonl file or a run folder holding one)",
                         file=str(path))
    return path


def stream_events(path: Path, keep_line: Callable[[bytes], bool] | None = None) -> Iterator[Event]:
    """Decode events lazily; `keep_line` can reject raw lines before they are decoded (fast paths)."""
    decoder = msgspec.json.Decoder(AnyEvent)
    with open_input(str(path)) as fh:
        for number, line in bounded_lines(fh, str(path)):
            if not line.strip() or (keep_line is not None and not keep_line(line)):
                continue
            try:
                yield decoder.decode(line)
            except (msgspec.DecodeError, RecursionError) as err:
                raise InputFileError(f"not an llmsim event: {err}", file=str(path), line=number) from None
