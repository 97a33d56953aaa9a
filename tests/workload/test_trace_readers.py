"""Trace readers: counts, lengths and arrival times against the source rows; bad input errors."""

from __future__ import annotations

import csv
import json
from datetime import datetime, timezone
from pathlib import Path

import pytest

from llmsim.errors import InputFileError, TraceError, UsageError
from llmsim.workload import TRACE_FORMATS, detect_format, open_trace
from llmsim.workload.canonical import to_record, write_canonical


def _csv_rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _azure_epoch_s(text: str) -> float:
    """Independent parse: microseconds by strptime, the 7th fractional digit added by hand."""
    whole = datetime.strptime(text[:26], "%Y-%m-%d %H:%M:%S.%f").replace(tzinfo=timezone.utc)
    return whole.timestamp() + int(text[26:] or 0) * 1e-7


def test_azure_matches_source_rows(fixtures: Path) -> None:
    """Azure CSV: one request per row, token counts and timestamps as in the file."""
    path = fixtures / "azure_code_head.csv"
    rows = _csv_rows(path)
    requests = list(open_trace(str(path)))
    assert detect_format(str(path)) == "azure"
    assert len(requests) == len(rows) == 30
    for request, row in zip(requests, rows):
        assert request.input_tokens == int(row["ContextTokens"])
        assert request.output_tokens == int(row["GeneratedTokens"])
        expected_s = _azure_epoch_s(row["TIMESTAMP"]) - _azure_epoch_s(rows[0]["TIMESTAMP"][:10] + " 00:00:00.0")
        assert request.arrival_s == pytest.approx(expected_s, abs=1e-6)
    assert [r.line for r in requests] == list(range(2, 32))
    assert requests[0].id == "azure_code_head.csv:2"


def test_azure_2024_schema_with_utc_offset(fixtures: Path) -> None:
    """The 2024 Azure layout carries an offset, which is applied."""
    requests = list(open_trace(str(fixtures / "azure_2024_schema.csv")))
    assert [r.input_tokens for r in requests] == [2162, 1111, 100]
    assert [r.arrival_s for r in requests[:2]] == [0.00993, 0.01353]  # seconds into the day
    # 00:00:01.5+01:00 is 23:00:01.5 UTC of the previous day.
    assert requests[2].arrival_s == pytest.approx(-3600 + 1.5, abs=1e-12)


def test_mooncake_matches_source_lines(fixtures: Path) -> None:
    """Mooncake: ms timestamps become seconds, hash_ids become prefix hashes."""
    path = fixtures / "mooncake_synthetic_head.jsonl"
    lines = [json.loads(text) for text in path.read_text().splitlines()]
    requests = list(open_trace(str(path)))
    assert detect_format(str(path)) == "mooncake"
    assert len(requests) == len(lines) == 20
    for request, obj in zip(requests, lines):
        assert request.input_tokens == obj["input_length"]
        assert request.output_tokens == obj["output_length"]
        assert request.arrival_s == obj["timestamp"] / 1000
        assert request.prefix_hashes == tuple(obj["hash_ids"])


def test_vidur_matches_source_rows(fixtures: Path) -> None:
    """Vidur/Splitwise CSV: arrived_at in seconds, prefill and decode token counts."""
    path = fixtures / "vidur_azure_conv_qps2_head.csv"
    rows = _csv_rows(path)
    requests = list(open_trace(str(path)))
    assert detect_format(str(path)) == "vidur"
    assert len(requests) == len(rows) == 20
    for request, row in zip(requests, rows):
        assert request.arrival_s == float(row["arrived_at"])
        assert request.input_tokens == int(row["num_prefill_tokens"])
        assert request.output_tokens == int(row["num_decode_tokens"])


def test_vidur_without_arrival_column_is_untimed(tmp_path: Path) -> None:
    """A lengths-only CSV (as sarathi's ShareGPT file) reads as an untimed trace."""
    path = tmp_path / "lengths.csv"
    path.write_text("num_prefill_tokens,num_decode_tokens,num_total_tokens\n74,918,992\n")
    (request,) = open_trace(str(path))
    assert (request.input_tokens, request.output_tokens, request.arrival_s) == (74, 918, None)


def test_seed_trace_is_untimed_and_keeps_ids(fixtures: Path) -> None:
    """The seed JSONL: ids and models kept, created_at ignored (no arrival time)."""
    path = fixtures / "seed_trace.jsonl"
    lines = [json.loads(text) for text in path.read_text().splitlines() if text.strip()]
    requests = list(open_trace(str(path)))
    assert detect_format(str(path)) == "seed"
    assert len(requests) == len(lines)
    for request, obj in zip(requests, lines):
        assert request.id == obj["id"]
        assert request.model == obj["model"]
        assert request.input_tokens == obj["reported_token_input"]
        assert request.output_tokens == obj["reported_token_output"]
        assert request.arrival_s is None


def test_burstgpt_keeps_failed_requests(fixtures: Path) -> None:
    """BurstGPT: failed responses (0 tokens) are yielded unchanged, for the engine to skip."""
    path = fixtures / "burstgpt_sample.csv"
    requests = list(open_trace(str(path)))
    assert detect_format(str(path)) == "burstgpt"
    assert [r.output_tokens for r in requests] == [18, 0, 215, 259, 0]
    assert [r.arrival_s for r in requests] == [5.0, 45.0, 118.0, 118.0, 307.5]
    assert [r.model for r in requests][:3] == ["ChatGPT", "ChatGPT", "GPT-4"]


def test_canonical_round_trip(fixtures: Path, tmp_path: Path) -> None:
    """Writing requests as canonical JSONL and reading them back keeps every field."""
    source = list(open_trace(str(fixtures / "mooncake_synthetic_head.jsonl")))
    out = tmp_path / "canonical.jsonl"
    with out.open("wb") as handle:
        write_canonical((to_record(r, r.arrival_s) for r in source), handle)
    back = list(open_trace(str(out)))
    assert detect_format(str(out)) == "llmsim"
    assert len(back) == len(source)
    for a, b in zip(source, back):
        assert (a.id, a.input_tokens, a.output_tokens, a.arrival_s, a.prefix_hashes) == (
            b.id, b.input_tokens, b.output_tokens, b.arrival_s, b.prefix_hashes)
        assert b.line == a.line + 1  # the version header is line 1


def test_canonical_optional_fields(tmp_path: Path) -> None:
    """Canonical lines carry priority and SLO overrides; absent ids become basename:line."""
    path = tmp_path / "t.jsonl"
    path.write_text(
        '{"input_tokens": 10, "output_tokens": 5, "priority": 2, "slo": {"ttft_s": 0.5, "tpot_s": 0.05}}\n'
        '{"input_tokens": 0, "output_tokens": -1, "model": "m", "id": "x"}\n'
    )
    first, second = open_trace(str(path))
    assert (first.priority, first.slo_ttft_s, first.slo_tpot_s, first.id) == (2, 0.5, 0.05, "t.jsonl:1")
    assert (second.input_tokens, second.output_tokens, second.model, second.id) == (0, -1, "m", "x")


@pytest.mark.parametrize(
    ("text", "line", "field"),
    [
        ('{"input_tokens": 1, "output_tokens": 2}\n{"input_tokens": 3}\n', 2, "output_tokens"),
        ('{"input_tokens": "a", "output_tokens": 2}\n', 1, "input_tokens"),
        ('{"input_tokens": 1.5, "output_tokens": 2}\n', 1, "input_tokens"),
        ('{"input_tokens": 1, "output_tokens": 2, "slo": {"ttft_s": "x"}}\n', 1, "slo.ttft_s"),
        ('{"input_tokens": 1, "output_tokens": 2, "prefix_hashes": [1, "a"]}\n', 1, "prefix_hashes"),
        ('{"input_tokens": 1, "output_tokens": 2}\n{"input_tokens": 1, "outp', 2, None),
        ('{"input_tokens": 1, "output_tokens": 2}\n[1, 2]\n', 2, None),
        ('{"llmsim_trace_version": 99}\n{"input_tokens": 1, "output_tokens": 2}\n', 1, "llmsim_trace_version"),
    ],
)
def test_bad_jsonl_lines_name_line_and_field(tmp_path: Path, text: str, line: int, field: str | None) -> None:
    """A bad line raises TraceError naming the file, the line and the field."""
    path = tmp_path / "bad.jsonl"
    path.write_text(text)
    with pytest.raises(TraceError) as info:
        list(open_trace(str(path)))
    assert (info.value.file, info.value.line, info.value.field) == (str(path), line, field)


def test_truncated_last_line_is_reported(tmp_path: Path) -> None:
    """A last line cut in the middle says so."""
    path = tmp_path / "cut.jsonl"
    path.write_text('{"input_length": 1, "output_length": 2, "timestamp": 0}\n{"input_length": 1, "outp')
    with pytest.raises(TraceError, match="truncated"):
        list(open_trace(str(path)))


def test_bad_csv_rows_name_line_and_field(tmp_path: Path) -> None:
    """CSV: a short row and a non-integer count are TraceErrors at their line."""
    path = tmp_path / "bad.csv"
    path.write_text("TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:17:03.97,10,2\n2023-11-16 18:17:04,7\n")
    with pytest.raises(TraceError) as info:
        list(open_trace(str(path)))
    assert (info.value.line, info.value.field) == (3, "GeneratedTokens")
    path.write_text("TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:17:03.97,ten,2\n")
    with pytest.raises(TraceError) as info:
        list(open_trace(str(path)))
    assert (info.value.line, info.value.field) == (2, "ContextTokens")
    path.write_text("TIMESTAMP,ContextTokens,GeneratedTokens\nyesterday,10,2\n")
    with pytest.raises(TraceError) as info:
        list(open_trace(str(path)))
    assert info.value.field == "TIMESTAMP"


def test_empty_traces(tmp_path: Path) -> None:
    """An empty file, or a CSV with only a header, is 'trace is empty'."""
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n\n")
    with pytest.raises(TraceError, match="trace is empty"):
        open_trace(str(empty))
    header_only = tmp_path / "header.csv"
    header_only.write_text("TIMESTAMP,ContextTokens,GeneratedTokens\n")
    with pytest.raises(TraceError, match="trace is empty"):
        list(open_trace(str(header_only)))


def test_file_problems_are_input_file_errors(tmp_path: Path) -> None:
    """Missing, directory, not UTF-8 and unrecognised files raise InputFileError at open."""
    with pytest.raises(InputFileError, match="no such file"):
        open_trace(str(tmp_path / "nope.jsonl"))
    with pytest.raises(InputFileError):
        open_trace(str(tmp_path))
    latin = tmp_path / "latin.jsonl"
    latin.write_bytes(b'{"model": "caf\xe9"}\n')
    with pytest.raises(InputFileError, match="UTF-8"):
        open_trace(str(latin))
    odd = tmp_path / "odd.csv"
    odd.write_text("a,b\n1,2\n")
    with pytest.raises(InputFileError, match="unrecognised"):
        open_trace(str(odd))


def test_explicit_format_and_unknown_name(fixtures: Path) -> None:
    """--format picks a reader; an unknown name is a UsageError listing the known ones."""
    assert "burstgpt" in TRACE_FORMATS and "auto" in TRACE_FORMATS
    requests = list(open_trace(str(fixtures / "vidur_azure_conv_qps2_head.csv"), fmt="vidur"))
    assert len(requests) == 20
    with pytest.raises(UsageError) as info:
        open_trace(str(fixtures / "seed_trace.jsonl"), fmt="nonsense")
    assert "azure" in (info.value.expected or "")


def test_reader_streams_lazily(tmp_path: Path) -> None:
    """Errors on a late line appear only when iteration reaches it (no whole-file load)."""
    path = tmp_path / "late.jsonl"
    path.write_text('{"input_tokens": 1, "output_tokens": 2}\n' * 3 + "not json\n")
    iterator = open_trace(str(path))
    assert next(iterator).line == 1
