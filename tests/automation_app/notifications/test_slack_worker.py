"""End to end with a real Celery worker: the approval request, the click, the push and the
message update all happen in the worker process, through Redis."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import transaction
from django.test import Client

from automation_app.models import AutoShare, AutoShareStatus
from automation_app.notifications import services as notifications
from automation_app.notifications.models import Notification, NotificationKind, NotificationStatus
from datasharing import s3
from sharing_app.push.models import PushJob, PushStatus
from tests.automation_app.conftest import (
    APPROVER,
    DESTINATION_BUCKET,
    block_actions_payload,
    post_slack_action,
    slack_request,
)
from tests.conftest import wait_for


@pytest.fixture
def destinations_allowed(settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The approval tests' destination bucket, allowed here and in a worker started later."""
    allowed = f"s3://{DESTINATION_BUCKET}/"
    settings.SHARE_ALLOWED_DESTINATIONS = [allowed]
    monkeypatch.setenv("SHARE_ALLOWED_DESTINATIONS", allowed)


def test_slack_approval_end_to_end_through_a_worker(
    fake_slack, destinations_allowed, celery_worker, share_factory
) -> None:
    setup = share_factory()
    with transaction.atomic():
        notifications.notify_enqueue(
            share_id=setup.share.id, kind=NotificationKind.APPROVAL_REQUEST
        )
    message = wait_for(
        lambda: next(iter(fake_slack.messages.values()), None),
        message=f"no approval message posted:\n{celery_worker.log()[-3000:]}",
    )
    assert any(block["type"] == "actions" for block in message.blocks)

    body, headers = slack_request(block_actions_payload(share_id=setup.share.id))
    response = post_slack_action(Client(), body, headers)

    assert response.status_code == 200, response.content
    share = AutoShare.objects.get(id=setup.share.id)
    assert share.status == AutoShareStatus.PUSHING
    job = wait_for(
        lambda: PushJob.objects.filter(
            id=share.push_job_id, status__in=[PushStatus.SUCCEEDED, PushStatus.FAILED]
        ).first(),
        message=f"push did not finish:\n{celery_worker.log()[-3000:]}",
    )
    assert job.status == PushStatus.SUCCEEDED, job.error_message
    for relative_path in setup.relative_paths:
        assert s3.head_object(DESTINATION_BUCKET, setup.destination_prefix + relative_path)
    wait_for(lambda: message.updates == 1, message="approval message not updated")
    assert not any(block["type"] == "actions" for block in message.blocks)
    assert f"<@{APPROVER}>" in message.blocks[-1]["elements"][0]["text"]
    wait_for(
        lambda: (
            Notification.objects.filter(
                share=share, kind=NotificationKind.PUSH_STARTED, status=NotificationStatus.SENT
            ).count()
            == 2
        ),
        message="push-started notifications not sent",
    )
    wait_for(lambda: len(fake_slack.ephemeral) == 1, message="clicker not told")
    wait_for(
        lambda: (
            Notification.objects.filter(
                share=share, kind=NotificationKind.SUCCEEDED, status=NotificationStatus.SENT
            ).count()
            == 2
        ),
        message="success notifications not sent",
    )
    share.refresh_from_db()
    assert share.status == AutoShareStatus.SUCCEEDED
    # Approval request, push started, succeeded: one each in the channel.
    assert len(fake_slack.calls_of("chat.postMessage")) == 3
