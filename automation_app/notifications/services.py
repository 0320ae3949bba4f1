"""Notifications about automatic shares: Slack messages to the rule's channel, emails to its
addresses.

`notify_enqueue(share_id=..., kind=...)` is called inside the transaction that changed the share.
It creates one `Notification` row per target (unique per share, kind, channel and target, so a
second call or a duplicate event adds nothing) and, once the transaction commits, queues one
`notification_send` task per new row.

Sending (`notification_send`) holds a row lock on the notification while it talks to Slack or
the mail server and marks it SENT in the same transaction: a task delivered twice, retried, or
run by two workers at once sends the message once. Transient failures (Slack 429 / 5xx /
`ratelimited`, connection errors, SMTP errors) are retried with exponential backoff (Slack's
`Retry-After` when longer) up to NOTIFY_MAX_ATTEMPTS, then the row is FAILED with the error;
permanent Slack errors (`invalid_auth`, `channel_not_found`, ...) fail it at once. A failed
notification never changes the share.

When a share leaves AWAITING_APPROVAL (approved, rejected, or its push refused), the Slack
approval request is updated (`chat.update`): the buttons go and it says who decided.
"""

from __future__ import annotations

import datetime as dt
import logging
import smtplib

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.utils import timezone

from automation_app.models import AutoShare
from automation_app.notifications.content import email_message, share_summary, slack_message
from automation_app.notifications.models import (
    Notification,
    NotificationChannel,
    NotificationKind,
    NotificationStatus,
)
from automation_app.notifications.slack import (
    SlackError,
    slack_ephemeral_post,
    slack_escape,
    slack_message_post,
    slack_message_update,
)
from datasharing import jobs

logger = logging.getLogger(__name__)

# Celery task names (registered in automation_app.notifications.tasks, which imports this module).
NOTIFICATION_SEND_TASK = "automation_app.notification_send"
APPROVAL_MESSAGE_UPDATE_TASK = "automation_app.approval_message_update"

# Kinds that mean the share no longer awaits approval: the approval message must say so.
DECISION_KINDS = (NotificationKind.PUSH_STARTED, NotificationKind.REJECTED, NotificationKind.FAILED)


def _targets(share: AutoShare) -> list[tuple[str, str]]:
    rule = share.rule
    targets: list[tuple[str, str]] = []
    if rule.slack_channel:
        targets.append((NotificationChannel.SLACK, rule.slack_channel))
    for address in rule.notify_emails or []:
        if isinstance(address, str) and address.strip():
            targets.append((NotificationChannel.EMAIL, address.strip()))
    return targets


def notify_enqueue(*, share_id: str, kind: str) -> None:
    """Queue the messages of `kind` about a share, sent after the current transaction commits.
    Idempotent: a target already notified of this kind is not notified again."""
    share = AutoShare.objects.select_related("rule").get(pk=share_id)
    for channel, target in _targets(share):
        notification, created = Notification.objects.get_or_create(
            share=share, kind=kind, channel=channel, target=target[:255]
        )
        if created:
            jobs.enqueue_on_commit(NOTIFICATION_SEND_TASK, notification.id)
    if (
        kind in DECISION_KINDS
        and Notification.objects.filter(
            share=share,
            kind=NotificationKind.APPROVAL_REQUEST,
            channel=NotificationChannel.SLACK,
        ).exists()
    ):
        jobs.enqueue_on_commit(APPROVAL_MESSAGE_UPDATE_TASK, share.id)


def _retry_delay(attempts: int, retry_after: float | None = None) -> float:
    backoff = min(
        settings.NOTIFY_RETRY_MAX_SECONDS, settings.NOTIFY_RETRY_BASE_SECONDS * 2 ** (attempts - 1)
    )
    return max(backoff, retry_after or 0.0)


def _load_share(share_id: str) -> AutoShare:
    return AutoShare.objects.select_related("rule", "run", "package", "decided_by").get(pk=share_id)


def notification_send(*, notification_id: int) -> float | None:
    """Send one PENDING notification. Returns the seconds to wait before trying again after a
    transient failure, else None (sent, failed for good, or nothing to do)."""
    with transaction.atomic():
        notification = Notification.objects.select_for_update().filter(id=notification_id).first()
        if notification is None or notification.status != NotificationStatus.PENDING:
            return None
        summary = share_summary(share=_load_share(notification.share_id))
        notification.attempts += 1
        retry_after: float | None = None
        try:
            if notification.channel == NotificationChannel.SLACK:
                text, blocks = slack_message(summary=summary, kind=notification.kind)
                posted = slack_message_post(channel=notification.target, text=text, blocks=blocks)
                notification.slack_ts = posted.ts
            else:
                subject, body, html = email_message(summary=summary, kind=notification.kind)
                email = EmailMultiAlternatives(subject, body, to=[notification.target])
                email.attach_alternative(html, "text/html")
                email.send()
        except SlackError as exc:
            retryable, retry_after, error = exc.retryable, exc.retry_after, exc.message
        except (smtplib.SMTPException, OSError) as exc:
            retryable, error = True, f"Email not sent: {type(exc).__name__}: {exc}"
        except ValueError as exc:  # an address Django cannot put in a header
            retryable, error = False, f"Email not sent: {exc}"
        else:
            notification.status = NotificationStatus.SENT
            notification.sent_at = timezone.now()
            notification.error = ""
            notification.save()
            return None
        notification.error = error[:2000]
        if retryable and notification.attempts < settings.NOTIFY_MAX_ATTEMPTS:
            notification.save()
            delay = _retry_delay(notification.attempts, retry_after)
            logger.warning(
                "notification %s (%s %s) of share %s: %s; retrying in %.1fs",
                notification.id,
                notification.kind,
                notification.channel,
                notification.share_id,
                error,
                delay,
            )
            return delay
        notification.status = NotificationStatus.FAILED
        notification.save()
    logger.error(
        "notification %s (%s %s) of share %s failed after %d attempts: %s",
        notification.id,
        notification.kind,
        notification.channel,
        notification.share_id,
        notification.attempts,
        error,
    )
    return None


def approval_message_update(*, share_id: str, attempt: int = 1) -> float | None:
    """Rewrite the share's Slack approval request to show the decision (no buttons). Returns the
    seconds to wait before trying again after a transient failure, else None.

    The approval notification's row lock orders this after a send in progress; a request not
    sent yet needs no update (it is rendered from the share's state when it is sent)."""
    with transaction.atomic():
        requests = Notification.objects.select_for_update().filter(
            share_id=share_id,
            kind=NotificationKind.APPROVAL_REQUEST,
            channel=NotificationChannel.SLACK,
            status=NotificationStatus.SENT,
        )
        for notification in requests:
            if not notification.slack_ts:
                continue
            summary = share_summary(share=_load_share(share_id))
            text, blocks = slack_message(summary=summary, kind=notification.kind)
            try:
                slack_message_update(
                    channel=notification.target, ts=notification.slack_ts, text=text, blocks=blocks
                )
            except SlackError as exc:
                notification.error = f"Updating the message after the decision: {exc.message}"
                notification.save(update_fields=["error"])
                logger.warning("share %s: %s", share_id, notification.error)
                if exc.retryable:
                    return _retry_delay(attempt, exc.retry_after)
    return None


def notification_retry(*, notification: Notification) -> bool:
    """Send a FAILED notification again (admin action). False when it is not FAILED."""
    with transaction.atomic():
        updated = Notification.objects.filter(
            id=notification.id, status=NotificationStatus.FAILED
        ).update(status=NotificationStatus.PENDING, attempts=0, error="")
        if updated:
            jobs.enqueue_on_commit(NOTIFICATION_SEND_TASK, notification.id)
    return bool(updated)


def notifications_resend_stale(*, now: dt.datetime | None = None) -> int:
    """Queue again PENDING notifications older than NOTIFY_STALE_AFTER_SECONDS: their task was
    lost (a broker restart, a worker killed before it acknowledged). Sending is idempotent (row
    lock and status check), so one still waiting for its retry is at worst sent a little early,
    never twice. Returns how many were queued."""
    now = now or timezone.now()
    stale = list(
        Notification.objects.filter(
            status=NotificationStatus.PENDING,
            created_at__lt=now - dt.timedelta(seconds=settings.NOTIFY_STALE_AFTER_SECONDS),
        ).values_list("id", flat=True)
    )
    for notification_id in stale:
        jobs.enqueue(NOTIFICATION_SEND_TASK, notification_id)
    if stale:
        logger.warning("queued %d pending notification(s) again: %s", len(stale), stale)
    return len(stale)


def slack_ephemeral_send(*, channel: str, user: str, text: str) -> None:
    """Tell one Slack user something (best effort: a lost ephemeral message changes nothing)."""
    try:
        slack_ephemeral_post(channel=channel, user=user, text=slack_escape(text))
    except SlackError as exc:
        logger.warning("ephemeral Slack message to %s not sent: %s", user, exc.message)
