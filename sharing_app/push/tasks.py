"""Celery tasks of pushes: thin wrappers that take ids and call one service.

All are safe to run twice (acks_late redelivery, reconciliation re-queueing): each service claims
its work with a conditional update first. Database hiccups are retried with backoff.
"""

from __future__ import annotations

from celery import shared_task
from django.conf import settings
from django.db import InterfaceError, OperationalError

from sharing_app.push import services

_DB_ERRORS = (OperationalError, InterfaceError)


@shared_task(
    name="sharing_app.push_start",
    acks_late=True,
    autoretry_for=_DB_ERRORS,
    retry_backoff=True,
    max_retries=5,
)
def push_start(push_job_id: str) -> None:
    services.push_start(push_job_id=push_job_id)


@shared_task(
    name="sharing_app.push_copy",
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
    name="sharing_app.push_finalize",
    acks_late=True,
    autoretry_for=_DB_ERRORS,
    retry_backoff=True,
    max_retries=5,
)
def push_finalize(push_job_id: str) -> None:
    services.push_finalize(push_job_id=push_job_id)


@shared_task(name="sharing_app.push_write_end_marker", acks_late=True, max_retries=0)
def push_write_end_marker(push_job_id: str) -> None:
    services.push_write_end_marker(push_job_id=push_job_id)


@shared_task(name="sharing_app.push_reconcile", acks_late=True, max_retries=0)
def push_reconcile() -> dict[str, int]:
    return services.push_reconcile()
