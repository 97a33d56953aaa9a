"""Write llmsim/examples/trace.jsonl: the first 200 Azure conversation requests in the seed's JSONL format."""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_SOURCE = REPO / ".." / "shared" / "data" / "traces" / "AzureLLMInferenceTrace_conv.csv"
DEFAULT_OUT = REPO / "llmsim" / "examples" / "trace.jsonl"
MODEL = "meta-llama/Meta-Llama-3.1-8B-Instruct"
ROWS = 200


def seed_line(index: int, row: dict[str, str]) -> str:
    """One seed-format request from an Azure row; created_at keeps the millisecond part."""
    stamp = row["TIMESTAMP"].strip()
    record = {
        "id": f"azure-conv-{index:04d}",
        "created_at": stamp[:23],
        "model": MODEL,
        "reported_token_input": int(row["ContextTokens"]),
        "reported_token_output": int(row["GeneratedTokens"]),
    }
    return json.dumps(record)


def main() -> None:
    """Read the first ROWS rows of the Azure conversation trace and write the example."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    with args.source.open(encoding="utf-8", newline="") as handle:
        rows = [row for _, row in zip(range(ROWS), csv.DictReader(handle))]
    lines = [seed_line(index, row) for index, row in enumerate(rows)]
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {len(lines)} requests to {args.out}")


if __name__ == "__main__":
    main()
