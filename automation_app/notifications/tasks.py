"""Celery tasks of notifications: thin wrappers around `automation_app.notifications.services`.

Retries are explicit: the service says how long to wait after a transient Slack or SMTP failure
(attempts are counted on the notification row, which also caps them), and the task re-queues
itself with that countdown. `retry(throw=False)` returns instead of raising, so the task ends
normally once the retry is queued (and eager Celery runs the retry at once rather than
propagating `Retry`). Safe to run twice: sending claims the row under a lock.
"""

from __future__ import annotations

from typing import Any

from celery import Task, shared_task
from django.conf import settings
from django.db import InterfaceError, OperationalError

from automation_app.notifications import services as notifications

_DB_ERRORS = (OperationalError, InterfaceError)


@shared_task(
    bind=True,
    name="automation_app.notification_send",
    acks_late=True,
    autoretry_for=_DB_ERRORS,
    retry_backoff=True,
    # The notification row counts attempts (NOTIFY_MAX_ATTEMPTS); this only bounds DB retries.
    max_retries=settings.NOTIFY_MAX_ATTEMPTS + 5,
    soft_time_limit=120,
    time_limit=180,
)
def notification_send(self: Task, notification_id: int) -> Any:
    delay = notifications.notification_send(notification_id=notification_id)
    if delay is None:
        return None
    return self.retry(countdown=delay, throw=False)


@shared_task(
    bind=True,
    name="automation_app.approval_message_update",
    acks_late=True,
    autoretry_for=_DB_ERRORS,
    retry_backoff=True,
    max_retries=settings.NOTIFY_MAX_ATTEMPTS,
    soft_time_limit=120,
    time_limit=180,
)
def approval_message_update(self: Task, share_id: str) -> Any:
    attempt = self.request.retries + 1
    delay = notifications.approval_message_update(share_id=share_id, attempt=attempt)
    if delay is None or attempt >= settings.NOTIFY_MAX_ATTEMPTS:
        return None
    return self.retry(countdown=delay, throw=False)


@shared_task(name="automation_app.slack_ephemeral_send", acks_late=True, max_retries=0)
def slack_ephemeral_send(channel: str, user: str, text: str) -> None:
    notifications.slack_ephemeral_send(channel=channel, user=user, text=text)
