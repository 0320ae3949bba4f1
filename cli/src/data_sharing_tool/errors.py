"""Exit codes and the one error type every command raises.

Each failure class has its own exit code so scripts can tell "the server said no" from "the
server could not be reached" from "the job ran and failed". The table is in docs/cli.md.
"""

from __future__ import annotations

import enum
from typing import Any


class ExitCode(enum.IntEnum):
    OK = 0
    ERROR = 1  # unexpected: a bug in this tool, or a response it cannot understand
    USAGE = 2  # bad flags or arguments (click's own code for usage errors)
    INVALID_INPUT = 3  # a manifest or an argument failed local validation; nothing was sent
    CONFIG = 4  # no server URL or token configured, or an unreadable config file
    NETWORK = 5  # the server could not be reached (connection refused, DNS, timeout, TLS)
    AUTH = 6  # 401 (token missing or invalid) or 403 (not allowed)
    NOT_FOUND = 7  # 404: unknown package or push job id
    CONFLICT = 8  # 409: wrong state (not SUCCEEDED yet, expired, running)
    REJECTED = 9  # any other 4xx: the server rejected the request as invalid
    SERVER = 10  # 5xx: the server failed
    JOB_FAILED = 11  # --wait: the job ended FAILED
    JOB_ABORTED = 12  # --wait: the job ended ABORTED
    INTERRUPTED = 130  # Ctrl-C while waiting; the job keeps running on the server


class CliError(Exception):
    """A failure to report to the user: a message, optional details and an exit code."""

    def __init__(
        self, message: str, *, exit_code: ExitCode = ExitCode.ERROR, details: Any = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code
        self.details = details

    def __str__(self) -> str:
        return self.message


class ApiError(CliError):
    """The server answered with an error status."""

    def __init__(
        self, message: str, *, status_code: int, exit_code: ExitCode, details: Any = None
    ) -> None:
        super().__init__(message, exit_code=exit_code, details=details)
        self.status_code = status_code


def exit_code_for_status(status_code: int) -> ExitCode:
    if status_code in (401, 403):
        return ExitCode.AUTH
    if status_code == 404:
        return ExitCode.NOT_FOUND
    if status_code == 409:
        return ExitCode.CONFLICT
    if status_code >= 500:
        return ExitCode.SERVER
    return ExitCode.REJECTED
