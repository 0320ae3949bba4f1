"""Structured logging: every line written while a job is being worked on carries its id."""

import contextlib
import contextvars
import logging
from collections.abc import Iterator

_current_job_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("job_id", default=None)


class JobContextFilter(logging.Filter):
    """Adds `job_id` (and a text label) to every record; never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        job_id = getattr(record, "job_id", None) or _current_job_id.get()
        record.job_id = job_id
        record.job_label = f" [{job_id}]" if job_id else ""
        return True


@contextlib.contextmanager
def job_context(job_id: str) -> Iterator[None]:
    """Within this block every log line names `job_id`."""
    token = _current_job_id.set(job_id)
    try:
        yield
    finally:
        _current_job_id.reset(token)
