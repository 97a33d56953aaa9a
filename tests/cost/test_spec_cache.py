"""The on-disk ModelSpec cache: a second process skips transformers, and no stale entry is ever used."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from llmsim.cost import model_spec, spec_cache
from llmsim.cost.model_spec import load_model_spec

SHIPPED = Path(model_spec.__file__).parent / "model_configs" / "llama-3.1-8b-instruct" / "config.json"


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv("LLMSIM_CACHE_DIR", str(folder))
    load_model_spec.cache_clear()
    yield folder
    load_model_spec.cache_clear()


def _local_config(tmp_path: Path, **changes: object) -> Path:
    folder = tmp_path / "my-model"
    folder.mkdir(exist_ok=True)
    values = json.loads(SHIPPED.read_text())
    values.update(changes)
    (folder / "config.json").write_text(json.dumps(values))
    return folder


def test_second_process_loads_the_spec_without_importing_transformers(cache: Path) -> None:
    probe = ("import sys; from llmsim.cost import load_model_spec; s = load_model_spec('llama-3.1-8b-instruct'); "
             "print(s.num_layers, 'transformers' in sys.modules)")
    env = {"LLMSIM_CACHE_DIR": str(cache), "PATH": "/usr/bin:/bin"}
    first = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True)
    second = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True)
    assert first.stdout.split() == ["32", "True"]
    assert second.stdout.split() == ["32", "False"]
    assert len(list((cache / "model_specs").glob("*.json"))) == 1


def test_cached_spec_equals_the_one_read_through_autoconfig(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fresh = load_model_spec("llama-3.1-8b-instruct")
    load_model_spec.cache_clear()
    monkeypatch.setattr(model_spec, "_read_config", lambda *_: pytest.fail("config read again despite the cache"))
    assert load_model_spec("llama-3.1-8b-instruct") == fresh


def test_edited_config_is_read_again(cache: Path, tmp_path: Path) -> None:
    folder = _local_config(tmp_path)
    assert load_model_spec(str(folder)).num_layers == 32
    load_model_spec.cache_clear()
    _local_config(tmp_path, num_hidden_layers=40)
    assert load_model_spec(str(folder)).num_layers == 40
    assert len(list((cache / "model_specs").glob("*.json"))) == 2


def test_corrupt_entry_is_ignored_and_replaced(cache: Path) -> None:
    fresh = load_model_spec("llama-3.1-8b-instruct")
    (entry,) = (cache / "model_specs").glob("*.json")
    entry.write_text("{not json")
    load_model_spec.cache_clear()
    assert load_model_spec("llama-3.1-8b-instruct") == fresh
    assert json.loads(entry.read_text())["num_layers"] == fresh.num_layers


def test_cache_off_writes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLMSIM_CACHE_DIR", "off")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    load_model_spec.cache_clear()
    assert spec_cache.cache_dir() is None
    assert load_model_spec("llama-3.1-8b-instruct").num_layers == 32
    assert not any(tmp_path.iterdir())
    load_model_spec.cache_clear()


def test_unwritable_cache_is_harmless(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv("LLMSIM_CACHE_DIR", str(blocker / "sub"))  # a folder under a file cannot exist
    load_model_spec.cache_clear()
    assert load_model_spec("llama-3.1-8b-instruct").num_layers == 32
    load_model_spec.cache_clear()
