"""`POST /api/v1/slack/actions`: signed Push / Reject clicks from the approval message."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from django.test import Client

from automation_app.models import AutoShare, AutoShareStatus, DecisionChannel
from automation_app.notifications import services as notifications
from automation_app.notifications.models import (
    Notification,
    NotificationChannel,
    NotificationKind,
    NotificationStatus,
)
from datasharing import s3
from sharing_app.push.models import PushJob, PushStatus
from tests.automation_app.conftest import (
    APPROVER,
    CHANNEL,
    DESTINATION_BUCKET,
    block_actions_payload,
    post_slack_action,
    slack_request,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def awaiting(share_factory, fake_slack, django_capture_on_commit_callbacks):  # type: ignore[no-untyped-def]
    """A share awaiting approval whose approval request was posted to Slack."""
    setup = share_factory()
    with django_capture_on_commit_callbacks(execute=True):
        notifications.notify_enqueue(
            share_id=setup.share.id, kind=NotificationKind.APPROVAL_REQUEST
        )
    assert len(fake_slack.messages) == 1
    return setup


def click(
    capture: Any, share_id: str, action_id: str = "auto_share_push", user: str = APPROVER
) -> Any:
    body, headers = slack_request(
        block_actions_payload(share_id=share_id, action_id=action_id, user=user)
    )
    with capture(execute=True):
        return post_slack_action(Client(), body, headers)


def approval_message(fake_slack) -> Any:  # type: ignore[no-untyped-def]
    ts = Notification.objects.get(
        kind=NotificationKind.APPROVAL_REQUEST, channel=NotificationChannel.SLACK
    ).slack_ts
    return fake_slack.messages[(CHANNEL, ts)]


def assert_unchanged(share: AutoShare) -> None:
    share.refresh_from_db()
    assert share.status == AutoShareStatus.AWAITING_APPROVAL
    assert (share.decided_at, share.decided_via, share.push_job_id) == (None, "", None)
    assert not PushJob.objects.exists()


# --- Authentication: Slack's signature -----------------------------------------------------------


def _forged(share_id: str) -> dict[str, Any]:
    body, headers = slack_request(block_actions_payload(share_id=share_id), secret="not-the-secret")
    return {"body": body, "headers": headers}


def _stale(share_id: str) -> dict[str, Any]:
    body, headers = slack_request(
        block_actions_payload(share_id=share_id), timestamp=int(time.time()) - 301
    )
    return {"body": body, "headers": headers}


def _from_the_future(share_id: str) -> dict[str, Any]:
    body, headers = slack_request(
        block_actions_payload(share_id=share_id), timestamp=int(time.time()) + 301
    )
    return {"body": body, "headers": headers}


def _tampered(share_id: str) -> dict[str, Any]:
    body, headers = slack_request(block_actions_payload(share_id=share_id, user="U0SOMEONE"))
    # Signed for one user; the body now names the approver.
    return {"body": body.replace(b"U0SOMEONE", APPROVER.encode()), "headers": headers}


def _no_signature(share_id: str) -> dict[str, Any]:
    body, headers = slack_request(block_actions_payload(share_id=share_id))
    del headers["X-Slack-Signature"]
    return {"body": body, "headers": headers}


def _no_timestamp(share_id: str) -> dict[str, Any]:
    body, headers = slack_request(block_actions_payload(share_id=share_id))
    del headers["X-Slack-Request-Timestamp"]
    return {"body": body, "headers": headers}


def _not_a_number(share_id: str) -> dict[str, Any]:
    body, headers = slack_request(block_actions_payload(share_id=share_id))
    headers["X-Slack-Request-Timestamp"] = "soon"
    return {"body": body, "headers": headers}


@pytest.mark.parametrize(
    "make_request",
    [_forged, _stale, _from_the_future, _tampered, _no_signature, _no_timestamp, _not_a_number],
)
def test_unsigned_forged_or_stale_requests_get_401_and_change_nothing(
    awaiting, fake_slack, django_capture_on_commit_callbacks, make_request
) -> None:
    request = make_request(awaiting.share.id)
    calls_before = len(fake_slack.calls)

    with django_capture_on_commit_callbacks(execute=True):
        response = post_slack_action(Client(), request["body"], request["headers"])

    assert response.status_code == 401
    assert "signature" in response.json()["message"]
    assert_unchanged(awaiting.share)
    assert len(fake_slack.calls) == calls_before


def test_without_a_signing_secret_every_click_is_refused(
    awaiting, settings, django_capture_on_commit_callbacks
) -> None:
    body, headers = slack_request(block_actions_payload(share_id=awaiting.share.id), secret="")
    settings.SLACK_SIGNING_SECRET = ""
    with django_capture_on_commit_callbacks(execute=True):
        assert post_slack_action(Client(), body, headers).status_code == 401
    assert_unchanged(awaiting.share)


@pytest.mark.parametrize(
    "raw_body",
    [
        b"",
        b"payload=not-json",
        b"nopayload=1",
        b"payload=%5B%5D",  # a JSON array
        b"payload=" + json.dumps({"type": "view_submission"}).encode(),
        b"\xff\xfe",
    ],
)
def test_signed_but_malformed_bodies_get_400(
    awaiting, django_capture_on_commit_callbacks, raw_body
) -> None:
    body, headers = slack_request(None, raw_body=raw_body)
    with django_capture_on_commit_callbacks(execute=True):
        response = post_slack_action(Client(), body, headers)
    assert response.status_code == 400
    assert response.json()["message"]
    assert_unchanged(awaiting.share)


def test_an_unknown_action_gets_400(awaiting, django_capture_on_commit_callbacks) -> None:
    assert (
        click(
            django_capture_on_commit_callbacks, awaiting.share.id, "delete_everything"
        ).status_code
        == 400
    )
    assert_unchanged(awaiting.share)


# --- Decisions ------------------------------------------------------------------------------------


def test_an_approver_pressing_push_starts_the_push_and_the_message_says_who(
    awaiting, fake_slack, mailoutbox, django_capture_on_commit_callbacks
) -> None:
    response = click(django_capture_on_commit_callbacks, awaiting.share.id)

    assert response.status_code == 200
    share = AutoShare.objects.get(id=awaiting.share.id)
    # Tasks run eagerly here: the push has already finished and moved the share on.
    assert share.status == AutoShareStatus.SUCCEEDED
    assert (share.decided_via, share.decided_by_slack_user) == (DecisionChannel.SLACK, APPROVER)
    assert share.decided_at is not None
    # The push ran (tasks run eagerly here): every file is in the destination bucket.
    job = PushJob.objects.get()
    assert share.push_job_id == job.id
    assert job.status == PushStatus.SUCCEEDED, job.error_message
    for relative_path in awaiting.relative_paths:
        assert s3.head_object(DESTINATION_BUCKET, awaiting.destination_prefix + relative_path)
    # The approval message lost its buttons and says who approved.
    message = approval_message(fake_slack)
    assert message.updates == 1
    assert not any(block["type"] == "actions" for block in message.blocks)
    decision = message.blocks[-1]["elements"][0]["text"]
    assert decision.startswith(f"Approved by <@{APPROVER}> via slack at ")
    assert job.id in decision
    # Push started and succeeded: posted to the channel and mailed; the clicker is told privately.
    for kind in (NotificationKind.PUSH_STARTED, NotificationKind.SUCCEEDED):
        sent = Notification.objects.filter(share=share, kind=kind)
        assert {(n.channel, n.status) for n in sent} == {
            (NotificationChannel.SLACK, NotificationStatus.SENT),
            (NotificationChannel.EMAIL, NotificationStatus.SENT),
        }
    assert [m.subject.split(":")[0] for m in mailoutbox] == [
        "[datasharing] Approval needed",
        "[datasharing] Push started",
        "[datasharing] Push succeeded",
    ]
    (ephemeral,) = fake_slack.ephemeral
    assert ephemeral["user"] == APPROVER and job.id in ephemeral["text"]


def test_a_slack_user_who_is_not_an_approver_changes_nothing_and_is_told(
    awaiting, fake_slack, django_capture_on_commit_callbacks
) -> None:
    response = click(django_capture_on_commit_callbacks, awaiting.share.id, user="U0INTRUDER")

    assert response.status_code == 200
    assert response.json()["responseType"] == "ephemeral"
    assert "not allowed" in response.json()["text"]
    assert_unchanged(awaiting.share)
    (ephemeral,) = fake_slack.ephemeral
    assert ephemeral["user"] == "U0INTRUDER" and "not allowed" in ephemeral["text"]
    assert approval_message(fake_slack).updates == 0
    assert fake_slack.calls_of("chat.update") == []


def test_a_rule_without_slack_approvers_cannot_be_approved_from_slack(
    share_factory, fake_slack, django_capture_on_commit_callbacks
) -> None:
    setup = share_factory(approvers=[])
    response = click(django_capture_on_commit_callbacks, setup.share.id)
    assert "not allowed" in response.json()["text"]
    assert_unchanged(setup.share)


def test_reject_from_slack_pushes_nothing_and_everyone_is_told(
    awaiting, fake_slack, mailoutbox, django_capture_on_commit_callbacks
) -> None:
    response = click(django_capture_on_commit_callbacks, awaiting.share.id, "auto_share_reject")

    assert response.status_code == 200
    share = AutoShare.objects.get(id=awaiting.share.id)
    assert share.status == AutoShareStatus.REJECTED
    assert (share.decided_via, share.decided_by_slack_user) == (DecisionChannel.SLACK, APPROVER)
    assert not PushJob.objects.exists()
    message = approval_message(fake_slack)
    assert not any(block["type"] == "actions" for block in message.blocks)
    assert message.blocks[-1]["elements"][0]["text"].startswith(f"Rejected by <@{APPROVER}>")
    rejected = [
        m for m in fake_slack.messages.values() if m.text.startswith("Automatic share rejected")
    ]
    assert len(rejected) == 1
    assert mailoutbox[-1].subject.startswith("[datasharing] Automatic share rejected")


def test_a_second_click_on_a_decided_share_starts_nothing(
    awaiting, fake_slack, django_capture_on_commit_callbacks
) -> None:
    click(django_capture_on_commit_callbacks, awaiting.share.id)
    again = click(django_capture_on_commit_callbacks, awaiting.share.id)
    reject = click(django_capture_on_commit_callbacks, awaiting.share.id, "auto_share_reject")

    assert again.status_code == reject.status_code == 200
    assert "is SUCCEEDED (decided via SLACK" in again.json()["text"]
    assert "is SUCCEEDED (decided via SLACK" in reject.json()["text"]
    assert PushJob.objects.count() == 1
    assert AutoShare.objects.get(id=awaiting.share.id).status == AutoShareStatus.SUCCEEDED
    assert len(fake_slack.ephemeral) == 3


def test_a_click_naming_an_unknown_share_changes_nothing(
    awaiting, django_capture_on_commit_callbacks
) -> None:
    response = click(django_capture_on_commit_callbacks, "ash.01JD5V7Q3S8K2M4N6P8R0T2V4X")
    assert response.status_code == 200
    assert "No automatic share" in response.json()["text"]
    assert_unchanged(awaiting.share)


def test_a_refused_push_fails_the_share_and_the_message_says_why(
    awaiting, fake_slack, settings, django_capture_on_commit_callbacks
) -> None:
    settings.SHARE_ALLOWED_DESTINATIONS = []  # the destination was removed from the list since

    response = click(django_capture_on_commit_callbacks, awaiting.share.id)

    assert "could not start" in response.json()["text"]
    share = AutoShare.objects.get(id=awaiting.share.id)
    assert share.status == AutoShareStatus.FAILED
    assert "not in the allowed destinations" in share.error
    assert not PushJob.objects.exists()
    decision = approval_message(fake_slack).blocks[-1]["elements"][0]["text"]
    assert decision.startswith(f"Approved by <@{APPROVER}>") and "not in the allowed" in decision
    assert Notification.objects.filter(
        share=share, kind=NotificationKind.FAILED, status=NotificationStatus.SENT
    ).exists()
