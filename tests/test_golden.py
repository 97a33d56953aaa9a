"""Golden outputs: whole replays must stay byte-identical to the committed ones (see tests/golden/README.md)."""

from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = ROOT / "tests" / "golden"
INPUTS = GOLDEN / "inputs"
FILES = ("events.jsonl", "requests.jsonl", "trace.json", "stats.json")
PINNED = ["--calibration", "vllm-a100", "--quiet"]  # never the default calibration: it will change

# case -> replay arguments (after `llmsim replay`); paths relative to the repository root.
CASES: dict[str, list[str]] = {
    # The bundled example with its defaults.
    "example": [],
    # GPUs added and removed mid-run (an idle replica retired), stale load reports, least-loaded routing.
    "example-env-changes": ["--environment-change-file", "llmsim/examples/env_changes.jsonl",
                            "--load-report-interval", "0.5", "--routing-policy", "least-loaded"],
    # One replica, whole prompts (no chunking), priority scheduling.
    "example-one-replica": ["--n-engines", "1", "--no-chunked-prefill", "--scheduling", "priority",
                            "--max-num-seqs", "16"],
    # Long Mooncake prompts on small KV caches: preemptions and too_long_for_kv_cache failures.
    "mooncake-preempt": ["--input", "tests/golden/inputs/mooncake_conversation_100.jsonl", "--n-engines", "2",
                         "--hardware", "nvidia_A100", "--gpu-memory-utilization", "0.5", "--time-scale", "4",
                         "--default-model", "meta-llama/Meta-Llama-3.1-8B-Instruct"],
    # scripts/bench.py scenario S, 600 requests instead of 10,000 (same model, GPUs and load).
    "bench-s-600": ["--input", "tests/golden/inputs/azure_code_600.jsonl", "--n-engines", "8",
                    "--hardware", "nvidia_A100_80G_SXM", "--model", "llama-3.1-8b-instruct", "--seed", "7"],
}


def normalised(name: str, data: bytes) -> bytes:
    """The bytes compared: stats.json loses its wall time, the checkout's location (in the bundled example's
    paths) and its `run` section (paths, version, build: they vary with the machine and checkout;
    tests/test_run_config.py checks that section)."""
    if name != "stats.json":
        return data
    stats = json.loads(data)
    stats["simulation"].pop("wall_s", None)
    for key in ("input", "environment"):  # the bundled example's files are named by absolute path
        stats["deployment"][key] = stats["deployment"][key].replace(str(ROOT) + "/", "")
    stats.pop("run", None)
    return (json.dumps(stats, indent=2, sort_keys=True) + "\n").encode()


def replay(case: str, out_dir: Path) -> dict[str, bytes]:
    """Run one case in this process; its normalised outputs by file name."""
    import os

    from llmsim.cli import main

    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        rc = main(["replay", *CASES[case], *PINNED, "--output-dir", str(out_dir)])
    finally:
        os.chdir(cwd)
    assert rc == 0, f"replay of {case} exited {rc}"
    return {f: normalised(f, (out_dir / f).read_bytes()) for f in FILES}


def golden(case: str, name: str) -> bytes:
    return gzip.decompress((GOLDEN / case / f"{name}.gz").read_bytes())


def first_difference(expected: bytes, got: bytes) -> str:
    """The first differing line, for a readable failure."""
    for i, (a, b) in enumerate(zip(expected.splitlines(), got.splitlines()), start=1):
        if a != b:
            return f"line {i}:\n  golden: {a[:300]!r}\n  now:    {b[:300]!r}"
    return f"lengths differ: golden {len(expected)} bytes, now {len(got)} bytes"


@pytest.mark.parametrize("case", sorted(CASES))
def test_outputs_match_golden(case: str, tmp_path: Path) -> None:
    """Every output file of the case equals the committed golden, byte for byte."""
    outputs = replay(case, tmp_path / "out")
    for name, got in outputs.items():
        expected = golden(case, name)
        assert got == expected, f"{case}/{name} differs from the golden: {first_difference(expected, got)}"


def test_mooncake_case_preempts_and_fails() -> None:
    """The preempting case really exercises preemption and a KV failure (else it pins too little)."""
    stats = json.loads(golden("mooncake-preempt", "stats.json"))
    assert stats["preemptions"]["total"] > 0
    assert stats["requests"]["failed_by_reason"].get("too_long_for_kv_cache", 0) > 0
    assert stats["requests"]["completed"] > 0


def regenerate() -> None:
    """Rewrite every golden from the code as it is now (review the diff before committing)."""
    import tempfile

    for case in CASES:
        with tempfile.TemporaryDirectory() as tmp:
            outputs = replay(case, Path(tmp) / "out")
        folder = GOLDEN / case
        folder.mkdir(parents=True, exist_ok=True)
        for name, data in outputs.items():
            (folder / f"{name}.gz").write_bytes(gzip.compress(data, compresslevel=9, mtime=0))
        print(f"{case}: {sum(len(d) for d in outputs.values()):,} bytes")


if __name__ == "__main__":
    if sys.argv[1:] != ["--regen"]:
        raise SystemExit("usage: python tests/test_golden.py --regen")
    sys.path.insert(0, str(ROOT))
    regenerate()
