"""Outputs are one transaction: checked before the run, written beside their targets, renamed at the end."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from llmsim.cli import main
from llmsim.errors import EXIT_BAD_INPUT
from llmsim.output.folder_lock import FolderLock
from llmsim.testing import folder_snapshot as snapshot

LINE = '{"input_tokens": 50, "output_tokens": 8, "model": "llama-3.1-8b-instruct"}\n'


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    (tmp_path / "t.jsonl").write_text(LINE * 5)
    return tmp_path


def replay(folder: Path, *args: str) -> int:
    return main(["replay", "-q", "-i", str(folder / "t.jsonl"), "--n-engines", "1", *args])


def test_a_run_leaves_only_its_outputs(run_dir: Path) -> None:
    """No temporary file survives a finished run."""
    assert replay(run_dir, "-o", str(run_dir / "out")) == 0
    assert sorted(p.name for p in (run_dir / "out").iterdir()) == ["events.jsonl", "requests.jsonl", "stats.json",
                                                                  "trace.json"]


def test_symlinked_output_is_refused_and_its_target_kept(run_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    victim = run_dir / "victim.txt"
    victim.write_text("precious\n")
    (run_dir / "out").mkdir()
    (run_dir / "out" / "stats.json").symlink_to(victim)
    before = snapshot(run_dir)
    assert replay(run_dir, "-o", str(run_dir / "out")) == EXIT_BAD_INPUT
    assert "symbolic link" in capsys.readouterr().err
    assert snapshot(run_dir) == before and victim.read_text() == "precious\n"


@pytest.mark.parametrize("args", [("--trace-output", "{d}/t.jsonl"), ("--stats-output", "{d}/t.jsonl"),
                                  ("-o", "{d}")])
def test_an_output_that_is_the_input_is_refused(run_dir: Path, args: tuple[str, ...],
                                                capsys: pytest.CaptureFixture[str]) -> None:
    """-i t.jsonl --trace-output t.jsonl, or a trace named requests.jsonl replayed into its own folder."""
    if args == ("-o", "{d}"):
        (run_dir / "t.jsonl").rename(run_dir / "requests.jsonl")
        (run_dir / "t.jsonl").symlink_to(run_dir / "requests.jsonl")
    before = snapshot(run_dir)
    status = replay(run_dir, *[a.replace("{d}", str(run_dir)) for a in args])
    err = capsys.readouterr().err
    assert status == EXIT_BAD_INPUT and "input" in err and len(err.strip().splitlines()) == 1
    assert snapshot(run_dir) == before


def test_two_outputs_on_one_path_are_refused(run_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    same = str(run_dir / "x.json")
    assert replay(run_dir, "-o", str(run_dir / "out"), "--trace-output", same, "--stats-output", same) == 2
    assert "both the trace output and the stats output" in capsys.readouterr().err
    assert not (run_dir / "out").exists() and not (run_dir / "x.json").exists()


def test_a_refused_option_leaves_the_previous_run_untouched(run_dir: Path) -> None:
    """A mistyped --routing-policy, or a bad line mid-trace, keeps the earlier outputs byte for byte."""
    out = run_dir / "out"
    assert replay(run_dir, "-o", str(out)) == 0
    before = snapshot(run_dir)
    assert replay(run_dir, "-o", str(out), "--routing-policy", "nope") == EXIT_BAD_INPUT
    assert snapshot(run_dir) == before
    (run_dir / "t.jsonl").write_text(LINE * 300 + "not json\n")
    before = snapshot(run_dir)
    assert replay(run_dir, "-o", str(out)) == EXIT_BAD_INPUT
    assert snapshot(run_dir) == before


def test_a_refused_run_creates_no_folder(run_dir: Path) -> None:
    (run_dir / "t.jsonl").write_text(LINE * 300 + "not json\n")
    assert replay(run_dir, "-o", str(run_dir / "new" / "deeper")) == EXIT_BAD_INPUT
    assert not (run_dir / "new").exists()


def test_a_second_run_into_a_locked_folder_is_refused(run_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = run_dir / "out"
    out.mkdir()
    lock = FolderLock(out, "--output-dir")
    lock.acquire()
    try:
        assert replay(run_dir, "-o", str(out)) == EXIT_BAD_INPUT
    finally:
        lock.release()
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "another llmsim run is writing to this folder" in err[0]
    assert list(out.iterdir()) == []
    assert replay(run_dir, "-o", str(out)) == 0


@pytest.mark.parametrize("kind", ["dir", "fifo"])
def test_an_output_that_is_not_a_regular_file_is_refused(run_dir: Path, kind: str) -> None:
    target = run_dir / "stats.out"
    if kind == "dir":
        target.mkdir()
    else:
        os.mkfifo(target)
    before = snapshot(run_dir)
    assert replay(run_dir, "-o", str(run_dir / "out"), "--stats-output", str(target)) == EXIT_BAD_INPUT
    assert snapshot(run_dir) == before


@pytest.mark.parametrize("command", [["generate", "--count", "3", "--model", "m"], ["convert", "{d}/t.jsonl"]])
def test_generate_and_convert_refuse_links_and_their_input(run_dir: Path, command: list[str]) -> None:
    """`-o` onto a symlink or onto the trace being converted is refused and changes nothing."""
    (run_dir / "victim").write_text("keep\n")
    (run_dir / "lk").symlink_to(run_dir / "victim")
    args = [a.replace("{d}", str(run_dir)) for a in command]
    for out in ("lk", "t.jsonl") if command[0] == "convert" else ("lk",):
        before = snapshot(run_dir)
        assert main([*args, "-o", str(run_dir / out)]) == EXIT_BAD_INPUT
        assert snapshot(run_dir) == before
    assert main([*args, "-o", str(run_dir / "new.jsonl")]) == 0
    assert not [p for p in run_dir.iterdir() if p.name.endswith(".llmsim-tmp")]
