"""Admin pages for push jobs, the ledger and allowed destinations."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client

from sharing_app.destinations.destination import parse_destination
from sharing_app.destinations.models import AllowedDestination
from sharing_app.push import services
from sharing_app.push.models import PushFile, PushJob, PushStatus
from tests.staff import staff_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_browser() -> Client:
    client = Client()
    client.force_login(User.objects.create_superuser("root", "root@example.org", None))
    return client


@pytest.fixture
def finished_job(
    source_files,
    package_factory,
    dest_factory,
    allow_destination,
    curator,
    django_capture_on_commit_callbacks,
):  # type: ignore[no-untyped-def]
    with django_capture_on_commit_callbacks(execute=True):
        job = services.push_create(
            package=package_factory(source_files(("fastq/L1.fastq.gz", 10))),
            destination=parse_destination(allow_destination(dest_factory().uri)),
            user=curator,
        )
    return PushJob.objects.get(id=job.id)


def test_push_job_and_ledger_pages_render(admin_browser, finished_job) -> None:
    row = PushFile.objects.get(job=finished_job)
    pages = [
        "/admin/sharing_app/pushjob/",
        f"/admin/sharing_app/pushjob/{finished_job.id}/change/",
        "/admin/sharing_app/pushfile/",
        f"/admin/sharing_app/pushfile/?job__id__exact={finished_job.id}",
        "/admin/sharing_app/pushfile/?q=L1",
        f"/admin/sharing_app/pushfile/{row.id}/change/",
        "/admin/sharing_app/alloweddestination/",
        "/admin/sharing_app/alloweddestination/add/",
    ]
    for page in pages:
        response = admin_browser.get(page)
        assert response.status_code == 200, page
    assert finished_job.id in admin_browser.get("/admin/sharing_app/pushjob/").content.decode()
    assert "fastq/L1.fastq.gz" in admin_browser.get("/admin/sharing_app/pushfile/").content.decode()


def test_the_ledger_cannot_be_edited_or_deleted_in_the_admin(admin_browser, finished_job) -> None:
    row = PushFile.objects.get(job=finished_job)
    assert (
        admin_browser.post(
            f"/admin/sharing_app/pushfile/{row.id}/delete/", {"post": "yes"}
        ).status_code
        == 403
    )
    assert admin_browser.get("/admin/sharing_app/pushfile/add/").status_code == 403
    assert PushFile.objects.filter(id=row.id).exists()


def test_admin_adds_an_allowed_destination_validated_and_normalised(admin_browser) -> None:
    bad = admin_browser.post(
        "/admin/sharing_app/alloweddestination/add/",
        {"prefix": "s3://collab-bucket/../y/", "enabled": "on"},
    )
    assert bad.status_code == 200 and "segments" in bad.content.decode()
    assert not AllowedDestination.objects.exists()
    good = admin_browser.post(
        "/admin/sharing_app/alloweddestination/add/",
        {
            "prefix": "s3://collab-bucket/incoming",
            "description": "CUP collaborators",
            "enabled": "on",
        },
    )
    assert good.status_code == 302
    entry = AllowedDestination.objects.get()
    assert entry.prefix == "s3://collab-bucket/incoming/"
    assert entry.created_by is not None and entry.created_by.username == "root"


def test_admin_action_aborts_active_pushes(
    admin_browser, source_files, package_factory, dest_factory, allow_destination, curator
) -> None:
    job = services.push_create(  # stays PENDING: on_commit callbacks do not run here
        package=package_factory(source_files(("a.txt", 3))),
        destination=parse_destination(allow_destination(dest_factory().uri)),
        user=curator,
    )
    response = admin_browser.post(
        "/admin/sharing_app/pushjob/",
        {"action": "abort_selected", "_selected_action": [job.id]},
        follow=True,
    )
    assert response.status_code == 200
    job.refresh_from_db()
    assert job.status == PushStatus.ABORTED
    assert job.error_message == "Aborted by root."


def test_a_staff_curator_aborts_only_their_own_pushes_in_the_admin(
    source_files, package_factory, dest_factory, allow_destination, curator, other_curator
) -> None:
    package = package_factory(source_files(("a.txt", 3)))
    mine, theirs = (
        services.push_create(  # stay PENDING: on_commit callbacks do not run here
            package=package,
            destination=parse_destination(allow_destination(dest_factory().uri)),
            user=user,
        )
        for user in (curator, other_curator)
    )
    browser = staff_client(curator, "sharing_app.view_pushjob")
    response = browser.post(
        "/admin/sharing_app/pushjob/",
        {"action": "abort_selected", "_selected_action": [mine.id, theirs.id]},
        follow=True,
    )
    assert response.status_code == 200
    mine.refresh_from_db()
    theirs.refresh_from_db()
    assert (mine.status, theirs.status) == (PushStatus.ABORTED, PushStatus.PENDING)
    messages = [str(m) for m in response.context["messages"]]
    assert "Aborted 1 push(es)." in messages
    assert (
        f"Push {theirs.id} was requested by otto-curator: only they or an admin may abort it."
        in messages
    )
