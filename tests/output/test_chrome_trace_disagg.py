"""trace.json of a disaggregated run: the prefill replica's part, the KV transfer, and its flow to the decode replica."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from .conftest import raw_events, replay
from .trace_checks import async_violations, nesting_violations

EXAMPLES = Path(__file__).resolve().parents[2] / "llmsim" / "examples"


def test_kv_transfer_flows_from_the_prefill_slice_to_the_decode_slice(tmp_path: Path) -> None:
    """Each transfer is a slice on a slot of the prefill replica, whose flow lands on the request on the decode replica."""
    run = replay(tmp_path / "out", "-i", str(EXAMPLES / "conversation_10k.jsonl"), "-e", str(EXAMPLES / "env_disagg.json"),
                 "--limit", "60", "--arrival-rate", "20")
    trace = orjson.loads((run / "trace.json").read_bytes())["traceEvents"]
    assert nesting_violations(trace) == [] and async_violations(trace) == []
    names = {e["pid"]: e["args"]["name"] for e in trace if e["ph"] == "M" and e["name"] == "process_name"}
    finished = {e["request_id"]: e for e in raw_events(run) if e["kind"] == "transfer_finished"}
    transfers = [e for e in trace if e["ph"] == "X" and e["name"] == "kv transfer"]
    landing = {e["bind_id"]: e for e in trace if e.get("flow_in") and e["name"].startswith("request ")}
    assert len(transfers) == len(finished) > 0
    for t in transfers:
        request = landing[t["bind_id"]]
        done = finished[request["args"]["request"]]
        assert names[t["pid"]].endswith(done["src_replica"]) and names[request["pid"]].endswith(done["dst_replica"])
        assert t["ts"] + t["dur"] == pytest.approx(request["ts"]) and request["ts"] == done["t_ns"] / 1000
