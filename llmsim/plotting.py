"""matplotlib, the optional `plot` extra, for every command that draws: availability, pyplot, saving."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from llmsim.errors import OutputError, UsageError

INSTALL = "pip install 'llmsim[plot]'"


def available() -> bool:
    """Is matplotlib installed?"""
    return importlib.util.find_spec("matplotlib") is not None


def require(feature: str, field: str | None = None) -> None:
    """A one-line usage error naming `feature` when matplotlib is missing."""
    if not available():
        raise UsageError(f"{feature} needs matplotlib, which is not installed ({INSTALL})", field=field)


def pyplot(feature: str, field: str | None = None) -> Any:
    """matplotlib.pyplot on the non-interactive Agg backend (files only, no display needed)."""
    require(feature, field)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save(fig: Any, path: str, dpi: int) -> None:
    """Lay out, write and close a figure; an unwritable path is a one-line output error."""
    import matplotlib.pyplot as plt

    from llmsim.output.atomic_file import atomic_output

    try:
        if fig.get_layout_engine() is None:  # figures made with a layout engine lay themselves out
            fig.tight_layout()
        with atomic_output(path, "plot") as handle:
            fig.savefig(handle, dpi=dpi, format=Path(path).suffix.lstrip(".").lower() or "png")
    except (OSError, ValueError) as err:
        raise OutputError(f"cannot write plot: {getattr(err, 'strerror', None) or err}", file=str(path)) from None
    finally:
        plt.close(fig)
