"""Which build is running: plain Python, or the optional mypyc-compiled hot path (see setup.py)."""

from __future__ import annotations

import importlib.machinery
import importlib.util
from pathlib import Path

# The packages whose modules the compiled build may replace.
_PACKAGES = ("llmsim", "actors")
_EXTENSIONS = tuple(importlib.machinery.EXTENSION_SUFFIXES)


def _module_files() -> list[tuple[str, Path]]:
    """(module name, its .py) for every source module of the packages above."""
    found = []
    for package in _PACKAGES:
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            continue
        root = Path(next(iter(spec.submodule_search_locations)))
        for source in sorted(root.rglob("*.py")):
            parts = source.relative_to(root.parent).with_suffix("").parts
            found.append((".".join(parts), source))
    return found


def _compiled_beside(source: Path) -> Path | None:
    for suffix in _EXTENSIONS:
        candidate = source.with_name(source.stem + suffix)
        if candidate.is_file():
            return candidate
    return None


def compiled_modules() -> list[str]:
    """Modules that import from a compiled extension instead of their .py file."""
    return [name for name, source in _module_files() if _compiled_beside(source) is not None]


def installed_copy() -> bool:
    """Is the llmsim imported an installed copy (its files listed in its wheel's RECORD), not a checkout?

    An installed copy is not edited, and installers do not keep build times (a .py may be written
    after its .so), so staleness only means something in a source checkout.
    """
    from importlib.metadata import PackageNotFoundError, distribution

    spec = importlib.util.find_spec("llmsim")
    if spec is None or spec.origin is None:
        return False
    try:
        dist = distribution("llmsim")
    except PackageNotFoundError:
        return False
    if dist.read_text("RECORD") is None:  # an egg-info folder left in a checkout by a build: not an install
        return False
    files = dist.files or []
    init = next((f for f in files if f.parts == ("llmsim", "__init__.py")), None)
    if init is None:  # an editable install lists only its hook, not the sources
        return False
    return Path(str(init.locate())).resolve() == Path(spec.origin).resolve()


def stale_compiled_modules() -> list[str]:
    """Compiled modules whose .py changed after the build: the edit is not what runs (checkouts only)."""
    if installed_copy():
        return []
    stale = []
    for name, source in _module_files():
        built = _compiled_beside(source)
        if built is not None and source.stat().st_mtime > built.stat().st_mtime:
            stale.append(name)
    return stale


def describe() -> str:
    """One line for version output and benchmark records."""
    compiled = compiled_modules()
    if not compiled:
        return "plain Python"
    stale = stale_compiled_modules()
    text = f"compiled hot path ({len(compiled)} modules, mypyc)"
    return text + (f"; STALE, rebuild: {', '.join(stale)}" if stale else "")
