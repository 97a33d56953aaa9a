"""Human diagnostics (structlog on stderr): debug shows the run's shape, the default level stays quiet."""

from __future__ import annotations

import io
from pathlib import Path

import orjson

from llmsim.logging_setup import configure_logging
from llmsim.options import ReplayOptions
from llmsim.replay import run_replay

EXAMPLES = Path(__file__).resolve().parents[2] / "llmsim" / "examples"


def _run(tmp_path: Path, level: str) -> list[dict]:
    stream = io.StringIO()
    configure_logging(level, "json", stream=stream)
    try:
        run_replay(ReplayOptions(input=str(EXAMPLES / "trace.jsonl"), environment=str(EXAMPLES / "env.json"), limit=12,
                                 output_dir=str(tmp_path), quiet=True))
    finally:
        configure_logging()  # back to llmsim's default (info, stderr)
    return [orjson.loads(line) for line in stream.getvalue().splitlines()]


def test_debug_logs_the_cluster_the_placement_and_the_end(tmp_path: Path) -> None:
    lines = _run(tmp_path, "debug")
    by_event = {}
    for line in lines:
        by_event.setdefault(line["event"], []).append(line)
    start = by_event["run starting"][0]
    assert start["nodes"] == 2 and start["gpus"] == {"nvidia_A100": 4, "nvidia_H100": 2}
    placed = by_event["replicas placed"]
    assert sorted((p["node"], p["replicas"]) for p in placed) == [(1, 4), (2, 2)]
    assert all(p["level"] == "debug" and min(p["kv_blocks"]) > 0 and p["weights_gib_per_gpu"] > 10 for p in placed)
    end = by_event["run finished"][0]
    assert end["completed"] + end["failed"] == 12 and end["complete"] is True and end["events"] > 0


def test_the_default_level_logs_nothing_on_a_clean_run(tmp_path: Path) -> None:
    assert _run(tmp_path, "info") == []


def test_library_use_never_prints_debug_lines(tmp_path: Path, capfd) -> None:  # noqa: ANN001
    """Without any configuration (llmsim imported as a library) debug lines stay hidden."""
    import subprocess
    import sys

    code = ("from llmsim.options import ReplayOptions\nfrom llmsim.replay import run_replay\n"
            f"run_replay(ReplayOptions(input={str(EXAMPLES / 'trace.jsonl')!r}, environment={str(EXAMPLES / 'env.json')!r},"
            f" limit=3, output_dir={str(tmp_path)!r}, quiet=True))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "replicas placed" not in done.stdout + done.stderr and "run finished" not in done.stdout + done.stderr
