"""Notifications about automatic shares: created once per target, sent once after commit,
retried on transient Slack and SMTP failures, recorded FAILED without touching the share, and
escaped wherever catalog values appear."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from automation_app.models import AutoShareStatus
from automation_app.notifications import services as notifications
from automation_app.notifications.models import (
    Notification,
    NotificationChannel,
    NotificationKind,
    NotificationStatus,
)
from tests.automation_app.conftest import CHANNEL, PUBLIC_BASE_URL

pytestmark = pytest.mark.django_db


def enqueue(capture: Any, share_id: str, kind: str = NotificationKind.APPROVAL_REQUEST) -> None:
    """notify_enqueue inside a transaction whose on-commit callbacks run (tasks run eagerly)."""
    with capture(execute=True):
        notifications.notify_enqueue(share_id=share_id, kind=kind)


def test_approval_request_goes_to_the_channel_with_buttons_and_to_every_address(
    fake_slack, share_factory, mailoutbox, django_capture_on_commit_callbacks
) -> None:
    setup = share_factory(emails=["data-team@example.org", "lead@example.org"])

    enqueue(django_capture_on_commit_callbacks, setup.share.id)

    posted = fake_slack.calls_of("chat.postMessage")
    assert len(posted) == 1
    assert posted[0].authorization == f"Bearer {fake_slack.token}"
    (message,) = fake_slack.messages.values()
    assert message.channel == CHANNEL
    blocks = message.blocks
    fields = " ".join(field["text"] for field in blocks[1]["fields"])
    package = setup.share.package
    for shown in (
        setup.rule.job_name,
        setup.share.run.instrument_run_id,
        package.package_name,
        package.id,
        "2 (",
        setup.destination,
        "L2400101, L2400102",
    ):
        assert shown in fields
    report_link = f"<{PUBLIC_BASE_URL}/api/v1/package/{package.id}/report|Package report>"
    assert report_link in str(blocks)
    buttons = blocks[-1]
    assert buttons["type"] == "actions"
    assert [(b["action_id"], b["value"]) for b in buttons["elements"]] == [
        ("auto_share_push", setup.share.id),
        ("auto_share_reject", setup.share.id),
    ]
    rows = Notification.objects.filter(share=setup.share).order_by("channel", "target")
    assert [(r.channel, r.target, r.status, r.attempts) for r in rows] == [
        (NotificationChannel.EMAIL, "data-team@example.org", NotificationStatus.SENT, 1),
        (NotificationChannel.EMAIL, "lead@example.org", NotificationStatus.SENT, 1),
        (NotificationChannel.SLACK, CHANNEL, NotificationStatus.SENT, 1),
    ]
    assert rows.get(channel=NotificationChannel.SLACK).slack_ts == message.ts
    assert sorted(m.to[0] for m in mailoutbox) == ["data-team@example.org", "lead@example.org"]


def test_enqueueing_twice_or_running_the_task_again_sends_each_message_once(
    fake_slack, share_factory, mailoutbox, django_capture_on_commit_callbacks
) -> None:
    from automation_app.notifications import tasks as notification_tasks

    setup = share_factory()
    enqueue(django_capture_on_commit_callbacks, setup.share.id)
    enqueue(django_capture_on_commit_callbacks, setup.share.id)
    for row in Notification.objects.filter(share=setup.share):
        notification_tasks.notification_send.delay(row.id)  # a redelivered task

    assert len(fake_slack.calls_of("chat.postMessage")) == 1
    assert len(mailoutbox) == 1
    assert Notification.objects.filter(share=setup.share).count() == 2


def test_rate_limited_slack_is_retried_after_retry_after_and_sent_once(
    fake_slack, share_factory, django_capture_on_commit_callbacks
) -> None:
    setup = share_factory(emails=[])
    with django_capture_on_commit_callbacks(execute=False):
        notifications.notify_enqueue(
            share_id=setup.share.id, kind=NotificationKind.APPROVAL_REQUEST
        )
    row = Notification.objects.get(share=setup.share)
    fake_slack.fail("chat.postMessage", status=429, retry_after=7)

    delay = notifications.notification_send(notification_id=row.id)

    row.refresh_from_db()
    assert delay is not None and delay >= 7  # Slack's Retry-After wins over our short backoff
    assert (row.status, row.attempts) == (NotificationStatus.PENDING, 1)
    assert "rate limited" in row.error
    assert notifications.notification_send(notification_id=row.id) is None
    row.refresh_from_db()
    assert (row.status, row.attempts, row.error) == (NotificationStatus.SENT, 2, "")
    assert len(fake_slack.messages) == 1


@pytest.mark.parametrize("retry_after", ["²", "٣", "1.5", "soon"])
def test_a_retry_after_that_is_not_ascii_seconds_is_ignored_not_a_crash(
    fake_slack, retry_after: str
) -> None:
    from automation_app.notifications import slack

    # `isdigit()` accepted `²`, then `float()` raised ValueError in the task.
    fake_slack.fail("chat.postMessage", status=429, retry_after=retry_after)
    with pytest.raises(slack.SlackError) as refused:
        slack.slack_message_post(channel=CHANNEL, text="hello", blocks=[])
    assert refused.value.retryable
    assert refused.value.retry_after is None


def test_slack_outage_is_retried_by_the_task_then_recorded_failed_without_touching_the_share(
    fake_slack, share_factory, settings, django_capture_on_commit_callbacks
) -> None:
    settings.NOTIFY_MAX_ATTEMPTS = 3
    setup = share_factory(emails=[])
    fake_slack.fail("chat.postMessage", status=503, times=10)

    enqueue(django_capture_on_commit_callbacks, setup.share.id)

    row = Notification.objects.get(share=setup.share)
    assert (row.status, row.attempts) == (NotificationStatus.FAILED, 3)
    assert "503" in row.error
    assert len(fake_slack.calls_of("chat.postMessage")) == 3
    setup.share.refresh_from_db()
    assert setup.share.status == AutoShareStatus.AWAITING_APPROVAL


@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        ({"error": "channel_not_found"}, "channel_not_found"),
        ({"error": "invalid_auth"}, "invalid_auth"),
    ],
)
def test_permanent_slack_errors_fail_at_once(
    fake_slack, share_factory, django_capture_on_commit_callbacks, fault, expected
) -> None:
    setup = share_factory(emails=[])
    fake_slack.fail("chat.postMessage", **fault)

    enqueue(django_capture_on_commit_callbacks, setup.share.id)

    row = Notification.objects.get(share=setup.share)
    assert (row.status, row.attempts) == (NotificationStatus.FAILED, 1)
    assert expected in row.error


def test_a_wrong_bot_token_fails_the_message_and_is_never_logged(
    fake_slack, share_factory, settings, caplog, django_capture_on_commit_callbacks
) -> None:
    settings.SLACK_BOT_TOKEN = "xoxb-wrong-secret-token-123"
    setup = share_factory(emails=[])

    with caplog.at_level(logging.DEBUG):
        enqueue(django_capture_on_commit_callbacks, setup.share.id)

    row = Notification.objects.get(share=setup.share)
    assert row.status == NotificationStatus.FAILED
    assert "invalid_auth" in row.error
    assert "xoxb-wrong-secret-token-123" not in caplog.text
    assert "xoxb-wrong-secret-token-123" not in row.error
    assert fake_slack.calls_of("chat.postMessage")[0].authorization.endswith("123")


def test_unknown_channel_in_the_fake_answers_like_slack(fake_slack, settings) -> None:
    from automation_app.notifications.slack import SlackError, slack_message_post

    with pytest.raises(SlackError) as raised:
        slack_message_post(channel="C0NOSUCH", text="hello", blocks=[])
    assert "channel_not_found" in raised.value.message
    assert raised.value.retryable is False


def test_without_a_bot_token_slack_messages_are_failed_and_emails_still_go(
    fake_slack, share_factory, settings, mailoutbox, django_capture_on_commit_callbacks
) -> None:
    settings.SLACK_BOT_TOKEN = ""
    setup = share_factory()

    enqueue(django_capture_on_commit_callbacks, setup.share.id)

    slack = Notification.objects.get(share=setup.share, channel=NotificationChannel.SLACK)
    assert slack.status == NotificationStatus.FAILED
    assert "SLACK_BOT_TOKEN" in slack.error
    assert len(mailoutbox) == 1
    assert fake_slack.calls == []


def test_email_escapes_catalog_values_and_links_the_report_and_the_approval(
    fake_slack, share_factory, mailoutbox, django_capture_on_commit_callbacks
) -> None:
    setup = share_factory(
        libraries=("<script>alert(1)</script>", "L2400102"), package_name="CUP-<b>bold</b>"
    )

    enqueue(django_capture_on_commit_callbacks, setup.share.id)

    (email,) = mailoutbox
    html, mimetype = email.alternatives[0]
    assert mimetype == "text/html"
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<b>bold</b>" not in html and "CUP-&lt;b&gt;bold&lt;/b&gt;" in html
    assert "<script>alert(1)</script>" in email.body  # plain text shows it as it is
    package_id = setup.share.package.id
    report = f"{PUBLIC_BASE_URL}/api/v1/package/{package_id}/report"
    approve = f"{PUBLIC_BASE_URL}/api/v1/auto-share/shares/{setup.share.id}:approve"
    for text in (email.body, html):
        assert report in text and approve in text
    assert f"/admin/automation_app/autoshare/{setup.share.id}/change/" in email.body
    assert email.subject.startswith("[datasharing] Approval needed: ")
    assert setup.share.run.instrument_run_id in email.subject


def test_slack_message_escapes_catalog_values(
    fake_slack, share_factory, django_capture_on_commit_callbacks
) -> None:
    setup = share_factory(libraries=("<!channel>", "L2400102"), package_name="a&b <http://x|y>")

    enqueue(django_capture_on_commit_callbacks, setup.share.id)

    (message,) = fake_slack.messages.values()
    rendered = str(message.blocks)
    assert "<!channel>" not in rendered and "&lt;!channel&gt;" in rendered
    assert "<http://x|y>" not in rendered and "a&amp;b &lt;http://x|y&gt;" in rendered


def test_outcome_messages_say_what_happened(
    fake_slack, share_factory, mailoutbox, django_capture_on_commit_callbacks
) -> None:
    setup = share_factory()
    setup.share.status = AutoShareStatus.FAILED
    setup.share.error = "The push could not start: destination <not allowed>"
    setup.share.save()

    enqueue(django_capture_on_commit_callbacks, setup.share.id, NotificationKind.FAILED)

    (message,) = fake_slack.messages.values()
    assert message.text.startswith("Automatic share failed: ")
    assert "destination &lt;not allowed&gt;" in str(message.blocks)
    assert not any(block["type"] == "actions" for block in message.blocks)
    (email,) = mailoutbox
    assert "Automatic share failed" in email.subject
    assert "destination <not allowed>" in email.body
    assert "destination &lt;not allowed&gt;" in email.alternatives[0][0]


def test_reconciliation_sends_notifications_whose_task_was_lost_once(
    fake_slack, share_factory, mailoutbox, django_capture_on_commit_callbacks, settings: Any
) -> None:
    import datetime as dt

    from django.utils import timezone

    from automation_app.shares import auto_shares_reconcile

    setup = share_factory(emails=["data-team@example.org"])
    # The rows are written but their tasks never run (a broker lost them): no on-commit callbacks.
    notifications.notify_enqueue(share_id=setup.share.id, kind=NotificationKind.APPROVAL_REQUEST)
    assert fake_slack.calls_of("chat.postMessage") == [] and mailoutbox == []
    pending = Notification.objects.filter(share=setup.share, status=NotificationStatus.PENDING)
    assert pending.count() == 2

    # Not yet stale: left alone.
    assert auto_shares_reconcile()["notificationsResent"] == 0
    later = timezone.now() + dt.timedelta(seconds=settings.NOTIFY_STALE_AFTER_SECONDS + 60)
    assert auto_shares_reconcile(now=later)["notificationsResent"] == 2
    assert len(fake_slack.calls_of("chat.postMessage")) == 1 and len(mailoutbox) == 1
    assert not pending.exists()
    # Sent ones are not sent again.
    assert auto_shares_reconcile(now=later)["notificationsResent"] == 0
    assert len(fake_slack.calls_of("chat.postMessage")) == 1 and len(mailoutbox) == 1
