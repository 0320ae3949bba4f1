"""`POST /api/v1/auto-share/shares/{id}:approve` and `:reject`: who may, what it does, and what
a second decision gets."""

from __future__ import annotations

import importlib
from typing import Any

import pytest
from django.apps import apps
from django.contrib.auth.models import Group, Permission

from automation_app.models import AutoShare, AutoShareStatus, DecisionChannel
from automation_app.notifications.models import Notification, NotificationKind
from sharing_app.push.models import PushJob, PushStatus
from tests.conftest import client_for, make_user

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("curators_may_approve")]


def approve(client: Any, share_id: str, body: Any = None) -> Any:
    return client.post(f"/api/v1/auto-share/shares/{share_id}:approve", body, format="json")


def reject(client: Any, share_id: str, body: Any = None) -> Any:
    return client.post(f"/api/v1/auto-share/shares/{share_id}:reject", body, format="json")


def test_a_curator_approves_and_the_push_runs(
    share_factory, fake_slack, curator_client, django_capture_on_commit_callbacks
) -> None:
    setup = share_factory()

    with django_capture_on_commit_callbacks(execute=True):
        response = approve(curator_client, setup.share.id, {"comment": "checked the report"})

    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["id"] == setup.share.id
    assert body["status"] == AutoShareStatus.PUSHING
    assert (body["decidedBy"], body["decidedVia"]) == ("cora-curator", DecisionChannel.API)
    assert body["decisionComment"] == "checked the report"
    job = PushJob.objects.get(id=body["pushJobId"])
    assert job.status == PushStatus.SUCCEEDED, job.error_message
    assert job.requested_by_name == "cora-curator"
    assert job.share_destination == setup.destination
    assert Notification.objects.filter(
        share_id=setup.share.id, kind=NotificationKind.PUSH_STARTED
    ).exists()


def test_a_second_approval_gets_409_and_starts_nothing(
    share_factory, fake_slack, curator_client, admin_client_api
) -> None:
    setup = share_factory()
    assert approve(curator_client, setup.share.id).status_code == 200

    again = approve(admin_client_api, setup.share.id)
    late_reject = reject(admin_client_api, setup.share.id)

    assert again.status_code == late_reject.status_code == 409
    assert "is PUSHING" in again.json()["message"]
    assert again.json()["details"] == {"status": "PUSHING"}
    assert PushJob.objects.count() == 1
    share = AutoShare.objects.get(id=setup.share.id)
    assert share.decided_by.username == "cora-curator"


def test_reject_with_a_comment(
    share_factory, fake_slack, admin_client_api, mailoutbox, django_capture_on_commit_callbacks
) -> None:
    setup = share_factory()

    with django_capture_on_commit_callbacks(execute=True):
        response = reject(admin_client_api, setup.share.id, {"comment": "wrong <project>"})

    assert response.status_code == 200
    share = AutoShare.objects.get(id=setup.share.id)
    assert (share.status, share.decided_via, share.decided_by.username) == (
        AutoShareStatus.REJECTED,
        DecisionChannel.API,
        "ada-admin",
    )
    assert share.decision_comment == "wrong <project>"
    assert share.push_job_id is None and not PushJob.objects.exists()
    (email,) = mailoutbox
    assert "Rejected by ada-admin via api" in email.body and "wrong <project>" in email.body
    assert "wrong &lt;project&gt;" in email.alternatives[0][0]
    assert approve(admin_client_api, setup.share.id).status_code == 409


def test_a_body_is_optional(share_factory, admin_client_api) -> None:
    setup = share_factory()
    response = admin_client_api.post(f"/api/v1/auto-share/shares/{setup.share.id}:reject")
    assert response.status_code == 200


def test_the_bare_ulid_names_the_share(share_factory, admin_client_api) -> None:
    setup = share_factory()
    assert reject(admin_client_api, setup.share.id.removeprefix("ash.")).status_code == 200


@pytest.mark.parametrize(
    "body", [{"comment": ["a"]}, {"comment": "x" * 1001}, ["comment"], {"comment": {"a": 1}}]
)
def test_bad_bodies_get_400_and_change_nothing(share_factory, admin_client_api, body) -> None:
    setup = share_factory()
    response = approve(admin_client_api, setup.share.id, body)
    assert response.status_code == 400
    assert response.json()["message"]
    assert AutoShare.objects.get(id=setup.share.id).status == AutoShareStatus.AWAITING_APPROVAL


@pytest.mark.parametrize(
    "share_id",
    [
        "ash.01JD5V7Q3S8K2M4N6P8R0T2V4X",
        "01JD5V7Q3S8K2M4N6P8R0T2V4X",
        "pkg.01JD5V7Q3S8K2M4N6P8R0T2V4X",
        "nope",
    ],
)
def test_unknown_shares_get_404(admin_client_api, share_id) -> None:
    assert approve(admin_client_api, share_id).status_code == 404
    assert reject(admin_client_api, share_id).status_code == 404


def test_who_may_decide(
    share_factory, anon_client, stranger_client, viewer_client, other_curator
) -> None:
    setup = share_factory()
    for client, expected in ((anon_client, 401), (stranger_client, 403), (viewer_client, 403)):
        assert approve(client, setup.share.id).status_code == expected
        assert reject(client, setup.share.id).status_code == expected
    assert AutoShare.objects.get(id=setup.share.id).status == AutoShareStatus.AWAITING_APPROVAL
    assert not PushJob.objects.exists()
    # Any curator may approve, not only the rule's author.
    assert approve(client_for(other_curator), setup.share.id).status_code == 200


def test_the_permission_alone_is_enough(share_factory) -> None:
    setup = share_factory()
    approver = make_user("perry-permission")
    approver.user_permissions.add(
        Permission.objects.get(
            content_type__app_label="automation_app", codename="approve_autoshare"
        )
    )
    assert reject(client_for(approver), setup.share.id).status_code == 200


def test_curators_lose_the_right_when_the_grant_is_removed(share_factory, curator_client) -> None:
    setup = share_factory()
    Group.objects.get(name="curator").permissions.clear()
    response = approve(curator_client, setup.share.id)
    assert response.status_code == 403
    assert "approve_autoshare" in response.json()["message"]


def test_the_migration_lets_curators_approve() -> None:
    curator = Group.objects.get(name="curator")
    curator.permissions.clear()
    migration = importlib.import_module("automation_app.migrations.0002_approvals_decision_comment")

    migration.curators_may_approve(apps, None)

    assert list(curator.permissions.values_list("codename", flat=True)) == ["approve_autoshare"]
    migration.curators_may_not_approve(apps, None)
    assert not curator.permissions.exists()


def test_a_destination_set_by_an_admin_is_pushed_to_as_the_admin_allowed_it(
    share_factory,
    fake_slack,
    curator_client,
    admin_client_api,
    admin_user,
    django_capture_on_commit_callbacks,
) -> None:
    setup = share_factory()  # a curator's rule, destination on the allow-list
    elsewhere = setup.destination.replace("/incoming/", "/not-on-the-list/")
    # A curator may not move the rule there; an admin (who may push anywhere) may.
    refused = curator_client.patch(
        f"/api/v1/auto-share/rules/{setup.rule.pk}", {"shareDestination": elsewhere}, format="json"
    )
    assert refused.status_code == 403
    moved = admin_client_api.patch(
        f"/api/v1/auto-share/rules/{setup.rule.pk}", {"shareDestination": elsewhere}, format="json"
    )
    assert moved.status_code == 200, moved.json()
    setup.rule.refresh_from_db()
    assert (setup.rule.changed_by, setup.rule.created_by.username) == (
        admin_user,
        "cora-curator",
    )
    # A share made after the change goes there; the curator's approval pushes it, judged as
    # for the admin who chose the destination (not the curator who wrote the rule).
    AutoShare.objects.filter(pk=setup.share.pk).update(share_destination=elsewhere)

    with django_capture_on_commit_callbacks(execute=True):
        response = approve(curator_client, setup.share.id)

    assert response.status_code == 200, response.json()
    job = PushJob.objects.get(id=response.json()["pushJobId"])
    assert job.share_destination == elsewhere
    assert job.status == PushStatus.SUCCEEDED, job.error_message
    assert job.requested_by_name == "cora-curator"
