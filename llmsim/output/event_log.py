"""Streams msgspec Structs to JSONL files through a buffered encoder (whole lines only)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import msgspec

from llmsim.output.events import AnyEvent, Event

FLUSH_BYTES = 1 << 20


class JsonlWriter:
    """Encode each record into a buffer; write the buffer out in ~1 MiB pieces of whole lines."""

    def __init__(self, path: Path) -> None:
        self._file: IO[bytes] = open(path, "wb")
        self._encoder = msgspec.json.Encoder()
        self._buf = bytearray()
        self.count = 0

    def write(self, record: Any) -> None:
        """Append one record as one line."""
        self._encoder.encode_into(record, self._buf, len(self._buf))
        self._buf += b"\n"
        self.count += 1
        if len(self._buf) >= FLUSH_BYTES:
            self.flush()

    def flush(self) -> None:
        """Write buffered whole lines to the file."""
        self._file.write(self._buf)
        self._buf.clear()

    def close(self) -> None:
        """Flush and close."""
        self.flush()
        self._file.close()


class EventLogWriter(JsonlWriter):
    """The events.jsonl sink: every event, one line each."""

    def __call__(self, event: Event) -> None:
        self.write(event)


def read_events(path: Path) -> Iterator[Event]:
    """Stream events back from an events.jsonl file, one Struct per line."""
    decoder = msgspec.json.Decoder(AnyEvent)
    with open(path, "rb") as fh:
        for line in fh:
            if line.strip():
                yield decoder.decode(line)
