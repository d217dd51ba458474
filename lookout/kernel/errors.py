"""The user-facing error: what the `lookout` command and the local suite report to the person at
the keyboard as one line, with an exit code (no traceback)."""

from __future__ import annotations


class CliError(Exception):
    """A failure the CLI reports as one line on stderr with this exit code."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class UsageError(CliError):
    """Bad input from the person at the keyboard: exit code 2."""

    def __init__(self, message: str) -> None:
        super().__init__(message, 2)
