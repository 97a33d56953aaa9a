"""Streams msgspec Structs to JSONL files through a buffered encoder (whole lines only)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any, get_args

import msgspec

from llmsim.output.events import AnyEvent, Event

FLUSH_RECORDS = 4096


class JsonlWriter:
    """Keep records (immutable Structs) in a list; encode and write them 4096 lines at a time."""

    def __init__(self, path: Path) -> None:
        self._file: IO[bytes] = open(path, "wb")
        self._encoder = msgspec.json.Encoder()
        self._pending: list[Any] = []

    def write(self, record: Any) -> None:
        """Append one record (encoded as one line at the next flush)."""
        pending = self._pending
        pending.append(record)
        if len(pending) >= FLUSH_RECORDS:
            self.flush()

    def flush(self) -> None:
        """Encode the pending records in one call and write them as whole lines."""
        if self._pending:
            self._file.write(self._encoder.encode_lines(self._pending))
            self._pending.clear()

    def close(self) -> None:
        """Flush and close."""
        self.flush()
        self._file.close()


class EventLogWriter(JsonlWriter):
    """The events.jsonl sink: every event, one line each.

    It lists every event type in `handlers` (see llmsim.output.sink), so the simulation calls
    `write` directly; it has no `__call__` (the compiled build cannot keep one).
    """

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.handlers: dict[type, Callable[[Any], None]] = {t: self.write for t in get_args(AnyEvent)}


def read_events(path: Path) -> Iterator[Event]:
    """Stream events back from an events.jsonl file, one Struct per line."""
    decoder = msgspec.json.Decoder(AnyEvent)
    with open(path, "rb") as fh:
        for line in fh:
            if line.strip():
                yield decoder.decode(line)
