"""Regenerate docs/events.schema.json from the event Structs (run after changing llmsim/output/events.py)."""

from __future__ import annotations

import sys
from pathlib import Path

from llmsim.output.events import schema_text

SCHEMA_PATH = Path(__file__).resolve().parents[1] / "docs" / "events.schema.json"


def main() -> int:
    """Write the schema; with --check, exit 1 if the committed file is stale instead."""
    text = schema_text()
    if "--check" in sys.argv[1:]:
        current = SCHEMA_PATH.read_text() if SCHEMA_PATH.exists() else ""
        if current != text:
            print(f"{SCHEMA_PATH} is stale: run python scripts/gen_event_schema.py", file=sys.stderr)
            return 1
        return 0
    SCHEMA_PATH.write_text(text)
    print(SCHEMA_PATH)
    return 0


if __name__ == "__main__":
    sys.exit(main())
