"""Test-session settings: model-spec cache entries go to a temporary folder, never the user's home;
the header names the build under test, and a stale compiled build stops the session."""

from __future__ import annotations

import os
import tempfile

import pytest


def pytest_configure() -> None:
    os.environ.setdefault("LLMSIM_CACHE_DIR", tempfile.mkdtemp(prefix="llmsim-test-cache-"))
    from llmsim.buildinfo import stale_compiled_modules

    stale = stale_compiled_modules()
    if stale:
        pytest.exit(f"compiled modules older than their sources: {', '.join(stale)}; rebuild "
                    "(LLMSIM_COMPILE=1, see docs/performance.md) or delete their .so files", returncode=2)


def pytest_report_header() -> str:
    from llmsim.buildinfo import describe

    return f"llmsim build: {describe()}"
