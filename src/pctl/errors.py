"""Errors pctl shows to people. Every expected failure is a PctlError with a message, never a traceback."""

from __future__ import annotations


class PctlError(Exception):
    """A failure the user can act on. exit_code 1 = failure, 2 = usage."""

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None, exit_code: int | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint
        if exit_code is not None:
            self.exit_code = exit_code

    def __str__(self) -> str:  # pragma: no cover - trivial
        return self.message


class UsageError(PctlError):
    """The command line itself is wrong (exit code 2)."""

    exit_code = 2


class TemplateNotFound(UsageError):
    """-t NAME matched neither a file nor a library/registry template."""


class CouldNotFindOut(PctlError):
    """The answer is unknown: AWS could not be asked (network, permissions, throttling) even after retries.
    Exit code 3, distinct from 1 (the thing asked about failed), so a CI gate can tell the two apart."""

    exit_code = 3
    kind = "unknown"
