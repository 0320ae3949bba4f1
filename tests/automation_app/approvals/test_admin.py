"""Admin: the Notification pages, and the approve / reject actions for the AutoShare admin
(registered by automation_app/admin.py; exercised here on a ModelAdmin of their own)."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib import admin
from django.contrib.auth.models import User
from django.contrib.messages import get_messages
from django.contrib.messages.storage.fallback import FallbackStorage
from django.contrib.sessions.backends.db import SessionStore
from django.test import Client, RequestFactory

from automation_app.approvals.admin import approve_selected, reject_selected
from automation_app.models import AutoShare, AutoShareStatus, DecisionChannel
from automation_app.notifications import services as notifications
from automation_app.notifications.models import Notification, NotificationKind, NotificationStatus
from sharing_app.push.models import PushJob

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("curators_may_approve")]


def admin_request(user: User) -> Any:
    request = RequestFactory().post("/admin/automation_app/autoshare/")
    request.user = user
    request.session = SessionStore()
    request._messages = FallbackStorage(request)
    return request


def messages_of(request: Any) -> list[str]:
    return [str(message) for message in get_messages(request)]


@pytest.fixture
def share_admin() -> admin.ModelAdmin[AutoShare]:
    return admin.ModelAdmin(AutoShare, admin.AdminSite(name="approvals-test"))


def test_approve_selected_starts_the_pushes_of_shares_awaiting_approval(
    share_factory, fake_slack, share_admin, curator, django_capture_on_commit_callbacks
) -> None:
    first, second = share_factory(), share_factory()
    second.share.status = AutoShareStatus.REJECTED
    second.share.save()
    request = admin_request(curator)

    with django_capture_on_commit_callbacks(execute=True):
        approve_selected(
            share_admin, request, AutoShare.objects.filter(id__in=[first.share.id, second.share.id])
        )

    share = AutoShare.objects.get(id=first.share.id)
    # Tasks run eagerly here: the push has already finished and moved the share on.
    assert (share.status, share.decided_via, share.decided_by) == (
        AutoShareStatus.SUCCEEDED,
        DecisionChannel.ADMIN,
        curator,
    )
    assert PushJob.objects.count() == 1
    assert AutoShare.objects.get(id=second.share.id).status == AutoShareStatus.REJECTED
    shown = messages_of(request)
    assert "Approved 1 automatic share(s)." in shown
    assert any("is REJECTED" in text for text in shown)


def test_reject_selected(share_factory, fake_slack, share_admin, admin_user) -> None:
    setup = share_factory()
    request = admin_request(admin_user)

    reject_selected(share_admin, request, AutoShare.objects.filter(id=setup.share.id))

    share = AutoShare.objects.get(id=setup.share.id)
    assert (share.status, share.decided_via) == (AutoShareStatus.REJECTED, DecisionChannel.ADMIN)
    assert "Rejected 1 automatic share(s)." in messages_of(request)


def test_the_actions_refuse_users_who_may_not_approve(share_factory, share_admin, viewer) -> None:
    setup = share_factory()
    viewer.is_staff = True
    viewer.save()
    request = admin_request(viewer)

    approve_selected(share_admin, request, AutoShare.objects.all())
    reject_selected(share_admin, request, AutoShare.objects.all())

    assert AutoShare.objects.get(id=setup.share.id).status == AutoShareStatus.AWAITING_APPROVAL
    assert not PushJob.objects.exists()
    assert all("approve_autoshare" in text for text in messages_of(request))


@pytest.fixture
def admin_browser() -> Client:
    client = Client()
    client.force_login(User.objects.create_superuser("root", "root@example.org", None))
    return client


def test_notification_pages_and_filters(
    share_factory, fake_slack, admin_browser, django_capture_on_commit_callbacks
) -> None:
    setup = share_factory()
    with django_capture_on_commit_callbacks(execute=True):
        notifications.notify_enqueue(
            share_id=setup.share.id, kind=NotificationKind.APPROVAL_REQUEST
        )
    row = Notification.objects.get(channel="SLACK")
    pages = [
        "/admin/automation_app/notification/",
        "/admin/automation_app/notification/?status__exact=SENT",
        "/admin/automation_app/notification/?channel__exact=EMAIL",
        "/admin/automation_app/notification/?kind__exact=APPROVAL_REQUEST",
        f"/admin/automation_app/notification/?q={setup.share.id}",
        f"/admin/automation_app/notification/{row.id}/change/",
    ]
    for page in pages:
        assert admin_browser.get(page).status_code == 200, page
    listing = admin_browser.get("/admin/automation_app/notification/?channel__exact=SLACK")
    assert setup.share.id in listing.content.decode()
    assert "data-team@example.org" not in listing.content.decode()


def test_a_failed_notification_can_be_sent_again_from_the_admin(
    share_factory, fake_slack, admin_browser, django_capture_on_commit_callbacks
) -> None:
    setup = share_factory(emails=[])
    fake_slack.fail("chat.postMessage", error="channel_not_found")
    with django_capture_on_commit_callbacks(execute=True):
        notifications.notify_enqueue(
            share_id=setup.share.id, kind=NotificationKind.APPROVAL_REQUEST
        )
    row = Notification.objects.get()
    assert row.status == NotificationStatus.FAILED

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_browser.post(
            "/admin/automation_app/notification/",
            {"action": "send_again", "_selected_action": [row.id]},
        )

    assert response.status_code == 302
    row.refresh_from_db()
    assert (row.status, row.attempts, row.error) == (NotificationStatus.SENT, 1, "")
    assert len(fake_slack.messages) == 1
