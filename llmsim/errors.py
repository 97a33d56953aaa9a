"""Error types for bad input: each renders as one line naming file, line, field and expectation."""

from __future__ import annotations


class LlmsimError(Exception):
    """Base of every error the CLI turns into one line and exit status 2."""

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        field: str | None = None,
        expected: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.file = file
        self.line = line
        self.field = field
        self.expected = expected

    def one_line(self) -> str:
        """Render as `FILE:LINE: FIELD: message (expected ...)`, omitting absent parts."""
        parts: list[str] = []
        if self.file is not None:
            parts.append(self.file if self.line is None else f"{self.file}:{self.line}")
        if self.field is not None:
            parts.append(self.field)
        text = self.message if self.expected is None else f"{self.message} (expected {self.expected})"
        parts.append(text)
        return ": ".join(parts).replace("\n", " ")


class InputFileError(LlmsimError):
    """A file that is missing, unreadable, not UTF-8 or not JSON/CSV."""


class TraceError(LlmsimError):
    """A request trace line with a missing field, wrong type or out-of-range value."""


class ConfigError(LlmsimError):
    """An environment, hardware, calibration or environment-change file that is invalid."""


class UsageError(LlmsimError):
    """Command-line flags that are invalid or conflict with each other."""


class UnknownModelError(LlmsimError):
    """A model name that resolves to no shipped config and no local config.json."""


class UnknownHardwareError(LlmsimError):
    """A GPU id that is not in the hardware table."""


class OutputError(LlmsimError):
    """An output folder or file that cannot be written."""


# Exit statuses of the `llmsim` command (documented in docs/errors.md).
EXIT_OK = 0
EXIT_INVARIANT_VIOLATED = 1
EXIT_BAD_INPUT = 2
EXIT_SIGINT = 130
EXIT_SIGTERM = 143
