"""The committed JSON Schema of events.jsonl is current, documented, and validates real lines."""

from __future__ import annotations

import json
from pathlib import Path

import msgspec

from llmsim.output.events import SCHEMA_VERSION, AnyEvent, schema_text

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_committed_schema_is_current() -> None:
    """docs/events.schema.json equals what scripts/gen_event_schema.py would write now."""
    assert (DOCS / "events.schema.json").read_text() == schema_text(), \
        "stale schema: run python scripts/gen_event_schema.py"


def test_every_kind_is_in_the_schema_and_the_docs() -> None:
    """Each event kind appears in the schema's definitions and in docs/events.md."""
    schema = json.loads(schema_text())
    doc = (DOCS / "events.md").read_text()
    kinds = [t.__struct_config__.tag for t in AnyEvent.__args__]
    for kind in kinds:
        assert f'"{kind}"' in json.dumps(schema)
        assert f"`{kind}`" in doc
    assert schema["x-schema-version"] == SCHEMA_VERSION


def test_log_lines_round_trip(example_run: Path) -> None:
    """Every line of a real log decodes to an event and re-encodes to the same bytes."""
    decoder, encoder = msgspec.json.Decoder(AnyEvent), msgspec.json.Encoder()
    lines = (example_run / "events.jsonl").read_bytes().splitlines()
    assert lines[0].startswith(b'{"kind":"run_started"')
    for line in lines:
        assert encoder.encode(decoder.decode(line)) == line


def test_every_event_class_is_in_the_union_the_event_log_writes() -> None:
    """events.jsonl takes the types of AnyEvent (its `handlers`); an Event subclass left out would vanish from it."""
    import llmsim.output.events as events

    declared = {c for c in vars(events).values()
                if isinstance(c, type) and issubclass(c, events.Event) and c is not events.Event}
    assert declared == set(AnyEvent.__args__)


def test_event_log_writes_every_event_type(tmp_path: Path) -> None:
    from llmsim.output.event_log import EventLogWriter, read_events
    from llmsim.output.events import FirstToken, RunStarted

    writer = EventLogWriter(tmp_path / "events.jsonl")
    assert set(writer.handlers) == set(AnyEvent.__args__)
    writer.handlers[RunStarted](RunStarted(t_ns=0, seed=3))
    writer.handlers[FirstToken](FirstToken(t_ns=5, request_id="r", node=0, replica="g"))
    writer.close()
    assert [type(e) for e in read_events(tmp_path / "events.jsonl")] == [RunStarted, FirstToken]
