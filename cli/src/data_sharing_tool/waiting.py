"""`--wait`: poll a job until it ends, showing its progress; Ctrl-C stops waiting, not the job."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from typing import Any, TextIO

import click

from data_sharing_tool.errors import CliError, ExitCode

TERMINAL_STATUSES = ("SUCCEEDED", "FAILED", "ABORTED")
POLL_VARIABLE = "DATA_SHARING_POLL_SECONDS"
DEFAULT_POLL_SECONDS = 5.0
# How long the server may stay unreachable (or answer 5xx) while we wait before we give up.
GIVE_UP_AFTER_SECONDS = 300.0


def poll_interval() -> float:
    raw = os.environ.get(POLL_VARIABLE, "")
    try:
        value = float(raw) if raw else DEFAULT_POLL_SECONDS
    except ValueError:
        raise CliError(
            f"{POLL_VARIABLE}={raw!r} is not a number of seconds", exit_code=ExitCode.CONFIG
        ) from None
    return max(0.1, value)


def _elapsed(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"


class ProgressDisplay:
    """One status line rewritten in place on a terminal; a new line per change otherwise."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.interactive = stream.isatty()
        self.last = ""
        self.line_open = False

    def update(self, text: str, elapsed: float) -> None:
        if self.interactive:
            click.echo(f"\r\033[K{text}  [{_elapsed(elapsed)}]", file=self.stream, nl=False)
            self.line_open = True
        elif text != self.last:
            click.echo(f"{text}", file=self.stream)
        self.last = text

    def note(self, text: str) -> None:
        self.finish()
        click.echo(text, file=self.stream)
        self.last = ""

    def finish(self) -> None:
        if self.line_open:
            click.echo("", file=self.stream)
            self.line_open = False


def wait_for_job(
    *,
    fetch: Callable[[], Any],
    describe: Callable[[dict[str, Any]], str],
    label: str,
    follow_command: str,
    interval: float | None = None,
    stream: TextIO | None = None,
) -> dict[str, Any]:
    """Poll `fetch()` until the job's status is terminal; return the last job JSON.

    Transient trouble (network errors, 5xx) is retried for `GIVE_UP_AFTER_SECONDS`; anything
    else (401, 404, ...) ends the wait at once. Ctrl-C raises `CliError(INTERRUPTED)` saying how
    to follow the job, which keeps running on the server.
    """
    interval = poll_interval() if interval is None else interval
    display = ProgressDisplay(stream or sys.stderr)
    started = time.monotonic()
    failing_since: float | None = None
    try:
        while True:
            try:
                job = fetch()
            except CliError as exc:
                if exc.exit_code not in (ExitCode.NETWORK, ExitCode.SERVER):
                    raise
                now = time.monotonic()
                failing_since = failing_since or now
                if now - failing_since > GIVE_UP_AFTER_SECONDS:
                    raise CliError(
                        f"{exc.message}\nGave up waiting; {label} may still be running. "
                        f"Follow it with:\n  {follow_command}",
                        exit_code=exc.exit_code,
                    ) from None
                display.note(f"lost contact with the server ({exc.message}); retrying ...")
                time.sleep(interval)
                continue
            failing_since = None
            if not isinstance(job, dict):
                raise CliError(f"Unexpected response while waiting for {label}.")
            display.update(f"{label}: {describe(job)}", time.monotonic() - started)
            if job.get("status") in TERMINAL_STATUSES:
                display.finish()
                return job
            time.sleep(interval)
    except KeyboardInterrupt:
        display.finish()
        raise CliError(
            f"Stopped waiting: {label} keeps running on the server. Follow it with:\n"
            f"  {follow_command}",
            exit_code=ExitCode.INTERRUPTED,
        ) from None


def raise_for_final_status(job: dict[str, Any], *, label: str) -> None:
    """Exit 0 only on SUCCEEDED: FAILED and ABORTED end with the job's own error message."""
    status = job.get("status")
    if status == "SUCCEEDED":
        return
    message = job.get("errorMessage") or "no error message recorded"
    if status == "ABORTED":
        raise CliError(f"{label} was ABORTED: {message}", exit_code=ExitCode.JOB_ABORTED)
    raise CliError(f"{label} FAILED: {message}", exit_code=ExitCode.JOB_FAILED)
