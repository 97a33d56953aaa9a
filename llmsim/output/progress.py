"""Progress reporting on long replays (simulated time, requests done) through structlog."""

from __future__ import annotations

from typing import Any

import structlog

from llmsim.kernel.clock import NS_PER_S

log = structlog.get_logger("llmsim")


class Progress:
    """Called by the GlobalEngine every --print-interval simulated seconds."""

    def __init__(self, quiet: bool = False) -> None:
        self.quiet = quiet

    def __call__(self, engine: Any) -> None:
        if self.quiet:
            return
        log.info("progress", simulated_s=round(engine.ctx.now / NS_PER_S, 3), arrived=engine.entered,
                 finished=engine.finished)

    def close(self) -> None:
        """End the progress display (nothing to do for log lines)."""
