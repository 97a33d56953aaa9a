"""Streams events to events.jsonl through a buffered msgspec encoder (whole lines only)."""

from __future__ import annotations

from pathlib import Path
from typing import IO

import msgspec

from llmsim.output.events import Event

FLUSH_BYTES = 1 << 20


class EventLogWriter:
    """A sink: encode each event into a buffer, write the buffer out in ~1 MiB pieces."""

    def __init__(self, path: Path) -> None:
        self._file: IO[bytes] = open(path, "wb")
        self._encoder = msgspec.json.Encoder()
        self._buf = bytearray()
        self.count = 0

    def __call__(self, event: Event) -> None:
        self._encoder.encode_into(event, self._buf, len(self._buf))
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


def read_events(path: Path):  # type: ignore[no-untyped-def]
    """Stream events back from an events.jsonl file, one Struct per line."""
    from llmsim.output.events import AnyEvent

    decoder = msgspec.json.Decoder(AnyEvent)
    with open(path, "rb") as fh:
        for line in fh:
            if line.strip():
                yield decoder.decode(line)
