"""Test-session settings: model-spec cache entries go to a temporary folder, never the user's home."""

from __future__ import annotations

import os
import tempfile


def pytest_configure() -> None:
    os.environ.setdefault("LLMSIM_CACHE_DIR", tempfile.mkdtemp(prefix="llmsim-test-cache-"))
