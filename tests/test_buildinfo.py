"""Which build runs: compiled modules are found beside their sources, and an edit after the build is flagged."""

from __future__ import annotations

import importlib.machinery
import os
import sys
from pathlib import Path

import pytest

from llmsim import buildinfo


@pytest.fixture
def package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "fakepkg"
    (root / "sub").mkdir(parents=True)
    for name in ("__init__.py", "hot.py", "cold.py", "sub/__init__.py", "sub/inner.py"):
        (root / name).write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(buildinfo, "_PACKAGES", ("fakepkg",))
    yield root
    sys.modules.pop("fakepkg", None)


def _fake_extension(source: Path) -> Path:
    built = source.with_name(source.stem + importlib.machinery.EXTENSION_SUFFIXES[0])
    built.write_bytes(b"")
    return built


def test_plain_package_has_no_compiled_modules(package: Path) -> None:
    assert buildinfo.compiled_modules() == []
    assert buildinfo.describe() == "plain Python"


def test_compiled_modules_are_found_and_stale_ones_flagged(package: Path) -> None:
    for source in (package / "hot.py", package / "sub" / "inner.py"):
        built = _fake_extension(source)
        os.utime(source, (1_000_000, 1_000_000))
        os.utime(built, (2_000_000, 2_000_000))
    assert buildinfo.compiled_modules() == ["fakepkg.hot", "fakepkg.sub.inner"]
    assert buildinfo.stale_compiled_modules() == []
    assert buildinfo.describe() == "compiled hot path (2 modules, mypyc)"
    os.utime(package / "hot.py", (3_000_000, 3_000_000))  # edited after the build
    assert buildinfo.stale_compiled_modules() == ["fakepkg.hot"]
    assert "STALE, rebuild: fakepkg.hot" in buildinfo.describe()


def test_version_names_the_build(capsys: pytest.CaptureFixture[str]) -> None:
    from llmsim.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("llmsim ") and buildinfo.describe() in out
