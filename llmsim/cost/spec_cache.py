"""On-disk cache of ModelSpecs, so a run skips importing transformers when a config was read before.

`transformers.AutoConfig` stays the reader of every config.json: the first run that meets a
config reads it through AutoConfig and stores the resulting ModelSpec; later runs with the
same file bytes, the same transformers version and the same ModelSpec layout load it here.
Importing transformers costs 1.0-1.3 s per process, a third of a 10,000-request replay.

Where: `$LLMSIM_CACHE_DIR`, else `$XDG_CACHE_HOME/llmsim`, else `~/.cache/llmsim`.
`LLMSIM_CACHE_DIR=off` turns the cache off. A cache that cannot be read or written is
ignored (the config is simply read again); it never changes a result.
"""

from __future__ import annotations

import hashlib
import os
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

import msgspec

from llmsim.logging_setup import get_logger

if TYPE_CHECKING:
    from llmsim.cost.model_spec import ModelSpec

# Bump when ModelSpec's fields or spec_from_config's meaning change: old entries stop matching.
SPEC_LAYOUT = 2
OFF = "off"

log = get_logger(__name__)


def cache_dir() -> Path | None:
    """The cache folder, or None when the cache is off."""
    configured = os.environ.get("LLMSIM_CACHE_DIR")
    if configured is not None:
        return None if configured in ("", OFF) else Path(configured).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "llmsim"


def _transformers_version() -> str:
    try:
        return metadata.version("transformers")
    except metadata.PackageNotFoundError:
        return "absent"


def cache_key(name: str, config_bytes: bytes) -> str:
    """Digest of everything the spec depends on: the file, the reader's version, the layout, the name."""
    h = hashlib.sha256()
    for part in (f"layout={SPEC_LAYOUT}", f"transformers={_transformers_version()}", f"name={name}"):
        h.update(part.encode())
        h.update(b"\0")
    h.update(config_bytes)
    return h.hexdigest()[:32]


def _entry(key: str) -> Path | None:
    """Where the spec of a key lives, or None when the cache is off."""
    folder = cache_dir()
    return None if folder is None else folder / "model_specs" / f"{key}.json"


def load(key: str) -> ModelSpec | None:
    """The cached spec for a key, or None (missing, unreadable or from another layout)."""
    from llmsim.cost.model_spec import ModelSpec

    entry = _entry(key)
    if entry is None:
        return None
    try:
        return msgspec.json.decode(entry.read_bytes(), type=ModelSpec)
    except (OSError, msgspec.DecodeError):
        return None


def store(key: str, spec: ModelSpec) -> None:
    """Write a spec atomically; failures (read-only home, full disk) only cost the next run time."""
    entry = _entry(key)
    if entry is None:
        return
    try:
        entry.parent.mkdir(parents=True, exist_ok=True)
        tmp = entry.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_bytes(msgspec.json.encode(spec))
        os.replace(tmp, entry)
    except OSError as err:
        log.debug("model spec cache not written", path=str(entry), error=str(err))
