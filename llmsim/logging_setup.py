"""structlog configuration for human diagnostics on stderr (`--log-level`, `--log-format`)."""

from __future__ import annotations

import logging
import sys
from typing import Any, TextIO

import structlog

LOG_LEVELS = ("debug", "info", "warning", "error")
LOG_FORMATS = ("console", "json")


def configure_logging(level: str = "info", fmt: str = "console", stream: TextIO | None = None) -> None:
    """Route structlog to stderr at `level`, as coloured-free console lines or as JSON lines."""
    out = stream if stream is not None else sys.stderr
    renderer: Any = (structlog.processors.JSONRenderer() if fmt == "json"
                     else structlog.dev.ConsoleRenderer(colors=False))
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(getattr(logging, level.upper())),
        logger_factory=structlog.PrintLoggerFactory(file=out),
        cache_logger_on_first_use=False,
    )


def get_logger(name: str = "llmsim") -> Any:
    """llmsim's structlog logger.

    If nothing has configured structlog yet (llmsim used as a library, or a benchmark's child
    process), it is set up here as the CLI's default would be: info and above, on stderr. Left
    alone, structlog would print debug lines to stdout. An application's own configuration,
    before or after this, wins.
    """
    if not structlog.is_configured():
        configure_logging()
    return structlog.get_logger(name)
