"""A non-editable install (as from a wheel) works away from the source tree: package data included.

The project is copied to a temporary folder, installed there with `pip install --no-deps
--no-build-isolation --target` (offline: the build backend and the dependencies come from the
test environment), and its `llmsim` console script runs from another folder.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ("llmsim", "actors", "protocols", "pyproject.toml", "setup.py", "README.md")


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder the package was installed into (its console script under bin/)."""
    base = tmp_path_factory.mktemp("install")
    src = base / "src"
    src.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.so", "*.pyc")
    for name in SOURCES:
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, src / name, ignore=ignore)
        else:
            shutil.copy2(path, src / name)
    site = base / "site"
    done = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
                           "--no-index", "--target", str(site), str(src)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    return site


def llmsim(site: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the installed console script from `cwd`, with only the install on the path."""
    env = {**os.environ, "PYTHONPATH": str(site), "TRANSFORMERS_NO_ADVISORY_WARNINGS": "1"}
    return subprocess.run([str(site / "bin" / "llmsim"), *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)


def test_the_installed_package_is_the_one_imported(installed: Path, tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(installed)}
    where = subprocess.run([sys.executable, "-c", "import llmsim; print(llmsim.__file__)"], cwd=tmp_path, env=env,
                           capture_output=True, text=True, check=True).stdout.strip()
    assert Path(where).is_relative_to(installed)
    assert (installed / "llmsim" / "examples" / "trace.jsonl").is_file()


def test_replay_with_no_arguments_runs_the_bundled_example(installed: Path, tmp_path: Path) -> None:
    done = llmsim(installed, tmp_path, "replay", "-q", "-o", "out")
    assert done.returncode == 0, done.stderr[-2000:]
    stats = json.loads((tmp_path / "out" / "stats.json").read_text())
    assert stats["requests"]["completed"] == 200
    assert done.stdout.startswith("ran: llama-3.1-8b-instruct on ") and "llmsim/examples/trace.jsonl" in done.stdout


def test_lookups_work_from_the_install(installed: Path, tmp_path: Path) -> None:
    hardware = llmsim(installed, tmp_path, "hardware")
    assert hardware.returncode == 0 and "nvidia_A100_80G_SXM" in hardware.stdout, hardware.stderr[-2000:]
    models = llmsim(installed, tmp_path, "models", "--json")
    assert models.returncode == 0, models.stderr[-2000:]
    assert "llama-3.1-8b-instruct" in {m["model"] for m in json.loads(models.stdout)["models"]}


def test_report_works_from_the_install(installed: Path, tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")  # the plot extra; .ci/run installs it
    assert llmsim(installed, tmp_path, "replay", "-q", "-o", "run", "--limit", "40").returncode == 0
    done = llmsim(installed, tmp_path, "report", "run")
    assert done.returncode == 0, done.stderr[-2000:]
    assert (tmp_path / "run" / "report" / "latency_cdf.png").stat().st_size > 10_000


def test_an_installed_copy_is_known_as_one(installed: Path, tmp_path: Path) -> None:
    """Installers do not keep build times, so only a checkout's compiled modules can be stale."""
    env = {**os.environ, "PYTHONPATH": str(installed)}
    code = "from llmsim.buildinfo import installed_copy; print(installed_copy())"
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "True"
    here = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert here.stdout.strip() == "False"
