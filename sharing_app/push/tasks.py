"""Celery tasks of pushes: thin wrappers that take ids and call one service.

All are safe to run twice (acks_late redelivery, the reaper re-queueing): each service claims its
work with a conditional update first. Database hiccups are retried with backoff. Stuck pushes are
found by the one reaper of every kind of job (`datasharing.tasks.jobs_reap`).
"""

from __future__ import annotations

from celery import shared_task
from django.conf import settings
from django.db import InterfaceError, OperationalError

from sharing_app.push import services
from sharing_app.push.lifecycle import (
    PUSH_COPY_TASK,
    PUSH_END_MARKER_TASK,
    PUSH_FINALIZE_TASK,
    PUSH_START_TASK,
)

_DB_ERRORS = (OperationalError, InterfaceError)


@shared_task(
    name=PUSH_START_TASK,
    acks_late=True,
    autoretry_for=_DB_ERRORS,
    retry_backoff=True,
    max_retries=5,
)
def push_start(push_job_id: str) -> None:
    services.push_start(push_job_id=push_job_id)


@shared_task(
    name=PUSH_COPY_TASK,
    acks_late=True,
    autoretry_for=_DB_ERRORS,
    retry_backoff=True,
    max_retries=5,
    # Copiers stop claiming after PUSH_COPIER_SLICE_SECONDS, but a large file takes long to
    # copy; a killed copier is recovered by reconciliation anyway.
    soft_time_limit=settings.PUSH_BATCH_TIME_LIMIT,
    time_limit=settings.PUSH_BATCH_TIME_LIMIT + 300,
)
def push_copy(push_job_id: str) -> None:
    services.push_copy(push_job_id=push_job_id)


@shared_task(
    name=PUSH_FINALIZE_TASK,
    acks_late=True,
    autoretry_for=_DB_ERRORS,
    retry_backoff=True,
    max_retries=5,
)
def push_finalize(push_job_id: str) -> None:
    services.push_finalize(push_job_id=push_job_id)


@shared_task(name=PUSH_END_MARKER_TASK, acks_late=True, max_retries=0)
def push_write_end_marker(push_job_id: str) -> None:
    services.push_write_end_marker(push_job_id=push_job_id)
