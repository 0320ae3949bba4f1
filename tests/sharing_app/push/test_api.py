"""Push API: permissions, validation, package state, listing, abort, files and ledger search."""

from __future__ import annotations

import datetime as dt
import json
import os
from typing import Any

import boto3
import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from datasharing import s3
from packages_app.models import PackageFile, PackageLibrary, PackageStatus
from sharing_app.push.models import PushFile, PushJob, PushStatus
from tests.conftest import client_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def package(source_files, package_factory, curator):  # type: ignore[no-untyped-def]
    return package_factory(
        source_files(("fastq/a.fastq.gz", 100), ("fastq/b.fastq.gz", 200)), user=curator
    )


@pytest.fixture
def destination(allow_destination, dest_factory) -> str:  # type: ignore[no-untyped-def]
    return allow_destination(dest_factory().uri + "incoming/")


def post_push(client: APIClient, package_id: str, destination: Any) -> Any:
    return client.post(
        f"/api/v1/package/{package_id}:push", {"shareDestination": destination}, format="json"
    )


# --- Starting a push ------------------------------------------------------------------------------


def test_curator_starts_a_push_and_gets_the_job(curator_client, package, destination) -> None:
    response = post_push(curator_client, package.id, destination)
    assert response.status_code == 202, response.json()
    body = response.json()
    assert body["id"].startswith("psh.")
    assert body["packageId"] == package.id
    assert body["shareDestination"] == destination
    assert body["destinationType"] == "s3"
    assert body["status"] == "PENDING"
    assert body["requestedBy"] == "cora-curator"
    assert body["fileCount"] == 2 and body["totalBytes"] == 300
    assert PushJob.objects.get(id=body["id"]).requested_by.username == "cora-curator"


def test_a_bare_ulid_names_the_package(curator_client, package, destination) -> None:
    response = post_push(curator_client, package.id.removeprefix("pkg."), destination)
    assert response.status_code == 202


def test_push_needs_the_curator_role(
    anon_client, stranger_client, viewer_client, package, destination
) -> None:
    assert post_push(anon_client, package.id, destination).status_code == 401
    assert post_push(stranger_client, package.id, destination).status_code == 403
    assert post_push(viewer_client, package.id, destination).status_code == 403
    assert not PushJob.objects.exists()


@pytest.mark.parametrize(
    "bad",
    [
        None,
        "",
        "ftp://x/y/",
        "s3://bucket/../escape/",
        "s3://Bad_Bucket/x/",
        "icav2://CUP/",
        "s3://b/\x00/",
        7,
        ["s3://x/"],
    ],
)
def test_malformed_destinations_get_400(curator_client, package, bad) -> None:  # type: ignore[no-untyped-def]
    response = post_push(curator_client, package.id, bad)
    assert response.status_code == 400, response.json()
    assert response.json()["message"]
    assert not PushJob.objects.exists()


def test_missing_body_gets_400(curator_client, package) -> None:
    response = curator_client.post(f"/api/v1/package/{package.id}:push", {}, format="json")
    assert response.status_code == 400
    assert "shareDestination" in response.json()["message"]


def test_destination_outside_the_allowed_list_gets_403(curator_client, package, settings) -> None:
    settings.SHARE_ALLOWED_DESTINATIONS = ["s3://collab-a/incoming/"]
    response = post_push(curator_client, package.id, "s3://collab-b/incoming/")
    assert response.status_code == 403
    assert "not in the allowed destinations" in response.json()["message"]
    assert not PushJob.objects.exists()


def test_unknown_package_gets_404(curator_client, destination) -> None:
    assert (
        post_push(curator_client, "pkg.01JD5V7Q3S8K2M4N6P8R0T2V4X", destination).status_code == 404
    )
    assert post_push(curator_client, "not-an-id", destination).status_code == 404
    assert (
        post_push(curator_client, "psh.01JD5V7Q3S8K2M4N6P8R0T2V4X", destination).status_code == 404
    )


def test_package_not_succeeded_or_expired_gets_409(curator_client, package, destination) -> None:
    package.status = PackageStatus.RUNNING
    package.save()
    response = post_push(curator_client, package.id, destination)
    assert response.status_code == 409
    assert "RUNNING" in response.json()["message"]
    package.status = PackageStatus.SUCCEEDED
    package.expires_at = timezone.now() - dt.timedelta(minutes=1)
    package.save()
    response = post_push(curator_client, package.id, destination)
    assert response.status_code == 409
    assert "expired" in response.json()["message"]


def test_second_push_to_the_same_destination_while_one_is_active_gets_409(
    curator_client, package, destination
) -> None:
    first = post_push(curator_client, package.id, destination)
    second = post_push(curator_client, package.id, destination.rstrip("/"))
    assert second.status_code == 409
    assert first.json()["id"] in second.json()["message"]
    assert PushJob.objects.count() == 1


def test_archived_files_are_refused_with_their_list_until_restored(
    moto_s3, curator, package_factory, settings, django_capture_on_commit_callbacks
) -> None:
    from tests.sharing_app.conftest import SourceFile

    source = "moto-archive-src"
    dest = "moto-archive-dst"
    for bucket in (source, dest):
        s3.ensure_bucket(bucket)
    s3.put_object(source, "fastq/cold.fastq.gz", b"cold" * 10, storage_class="DEEP_ARCHIVE")
    s3.put_object(source, "fastq/warm.fastq.gz", b"warm" * 10)
    package = package_factory(
        [
            SourceFile(source, "fastq/cold.fastq.gz", "fastq/cold.fastq.gz", b""),
            SourceFile(source, "fastq/warm.fastq.gz", "fastq/warm.fastq.gz", b""),
        ]
    )
    settings.SHARE_ALLOWED_DESTINATIONS = [f"s3://{dest}/"]
    client = client_for(curator)

    refused = post_push(client, package.id, f"s3://{dest}/")

    assert refused.status_code == 409
    assert "fastq/cold.fastq.gz" in refused.json()["message"]
    assert refused.json()["details"] == {"archivedFiles": ["fastq/cold.fastq.gz"], "count": 1}

    # Restored (as the package's defrost step records it): the push goes through.
    s3.restore_object(source, "fastq/cold.fastq.gz", days=1, tier="Standard")
    info = s3.head_object(source, "fastq/cold.fastq.gz")
    assert info is not None and info.restore_state == "restored"
    PackageFile.objects.filter(package=package, relative_path="fastq/cold.fastq.gz").update(
        restore_state="restored"
    )
    with django_capture_on_commit_callbacks(execute=True):
        accepted = post_push(client, package.id, f"s3://{dest}/")
    assert accepted.status_code == 202
    job = PushJob.objects.get(id=accepted.json()["id"])
    assert job.status == PushStatus.SUCCEEDED, job.error_message
    assert s3.get_object_bytes(dest, "fastq/cold.fastq.gz") == b"cold" * 10


# --- Reading pushes ---------------------------------------------------------------------------------


def make_job(package: Any, **fields: Any) -> PushJob:
    defaults = {
        "package": package,
        "package_name": package.package_name,
        "share_destination": "s3://collab/x/",
        "destination_type": "s3",
        "destination_bucket": "collab",
        "destination_prefix": "x/",
        "status": PushStatus.SUCCEEDED,
        "completion_time": timezone.now(),
    }
    return PushJob.objects.create(**(defaults | fields))


def test_push_list_is_paginated_newest_first_with_filters(
    viewer_client, package, package_factory, source_files
) -> None:
    other = package_factory(source_files(("x.txt", 1)), name="other")
    now = timezone.now()
    old = make_job(package, request_time=now - dt.timedelta(days=10))
    failed = make_job(package, status=PushStatus.FAILED, request_time=now - dt.timedelta(days=1))
    newest = make_job(
        other, request_time=now, share_destination="s3://other/y/", destination_bucket="other"
    )

    page = viewer_client.get("/api/v1/push", {"rowsPerPage": 2}).json()
    assert [r["id"] for r in page["results"]] == [newest.id, failed.id]
    assert page["pagination"] == {"page": 1, "rowsPerPage": 2, "count": 3}
    assert page["links"]["previous"] is None
    second = viewer_client.get(page["links"]["next"]).json()
    assert [r["id"] for r in second["results"]] == [old.id]

    def ids(**params: Any) -> list[str]:
        response = viewer_client.get("/api/v1/push", params)
        assert response.status_code == 200, response.json()
        return [r["id"] for r in response.json()["results"]]

    assert ids(packageId=package.id) == [failed.id, old.id]
    assert ids(packageId=other.id.removeprefix("pkg.")) == [newest.id]
    assert ids(status="FAILED") == [failed.id]
    assert ids(status="succeeded,failed") == [newest.id, failed.id, old.id]
    assert ids(requestedAfter=(now - dt.timedelta(days=2)).date().isoformat()) == [
        newest.id,
        failed.id,
    ]
    assert ids(requestedBefore=(now - dt.timedelta(days=5)).isoformat()) == [old.id]
    assert ids(destination="s3://other/") == [newest.id]
    assert ids(packageId="garbage") == []


@pytest.mark.parametrize(
    "params",
    [{"requestedAfter": "yesterday"}, {"status": "DONE"}, {"page": "0"}, {"rowsPerPage": "x"}],
)
def test_push_list_bad_filters_get_400(viewer_client, params) -> None:  # type: ignore[no-untyped-def]
    response = viewer_client.get("/api/v1/push", params)
    assert response.status_code == 400
    assert response.json()["message"]


def test_push_detail_and_404(viewer_client, package) -> None:
    job = make_job(package)
    response = viewer_client.get(f"/api/v1/push/{job.id}")
    assert response.status_code == 200
    assert response.json()["id"] == job.id
    assert viewer_client.get(f"/api/v1/push/{job.id.removeprefix('psh.')}").status_code == 200
    assert viewer_client.get("/api/v1/push/psh.01JD5V7Q3S8K2M4N6P8R0T2V4X").status_code == 404
    assert viewer_client.get(f"/api/v1/push/{package.id}").status_code == 404
    assert viewer_client.get("/api/v1/push/nonsense").status_code == 404


def test_push_endpoints_need_a_role(anon_client, stranger_client, package) -> None:
    job = make_job(package)
    for path in (
        "/api/v1/push",
        f"/api/v1/push/{job.id}",
        f"/api/v1/push/{job.id}/files",
        "/api/v1/push/files",
    ):
        assert anon_client.get(path).status_code == 401
        assert stranger_client.get(path).status_code == 403


def test_abort_a_pending_push_then_409(
    curator_client,
    viewer_client,
    package,
    destination,
    finished_pushes,
    django_capture_on_commit_callbacks,
) -> None:
    job_id = post_push(curator_client, package.id, destination).json()["id"]
    assert viewer_client.patch(f"/api/v1/push/{job_id}:abort").status_code == 403

    with django_capture_on_commit_callbacks(execute=True):
        response = curator_client.patch(f"/api/v1/push/{job_id}:abort")

    assert response.status_code == 200
    assert response.json()["status"] == "ABORTED"
    assert response.json()["errorMessage"] == "Aborted by cora-curator."
    assert response.json()["completionTime"]
    assert finished_pushes == [{"push_job_id": job_id, "status": "ABORTED"}]
    again = curator_client.patch(f"/api/v1/push/{job_id}:abort")
    assert again.status_code == 409
    # The queued start finds the job aborted and does nothing.
    from sharing_app.push import services

    services.push_start(push_job_id=job_id)
    assert PushJob.objects.get(id=job_id).status == PushStatus.ABORTED
    assert not PushFile.objects.filter(job_id=job_id).exists()


def test_curators_cannot_abort_each_others_pushes_but_admins_can(
    curator_client, other_curator, admin_user, package
) -> None:
    theirs = make_job(
        package,
        status=PushStatus.RUNNING,
        completion_time=None,
        requested_by=other_curator,
        requested_by_name="otto-curator",
    )
    refused = curator_client.patch(f"/api/v1/push/{theirs.id}:abort")
    assert refused.status_code == 403
    assert refused.json() == {
        "message": f"Push {theirs.id} was requested by otto-curator: only they or an admin "
        "may abort it.",
        "details": {"owner": "otto-curator"},
    }
    theirs.refresh_from_db()
    assert theirs.status == PushStatus.RUNNING
    response = client_for(admin_user).patch(f"/api/v1/push/{theirs.id}:abort")
    assert response.status_code == 200
    assert response.json()["errorMessage"] == "Aborted by ada-admin."


def test_pushes_without_a_requester_are_aborted_by_admins_only(
    curator_client, admin_client_api, package
) -> None:
    automatic = make_job(package, status=PushStatus.PENDING, completion_time=None)
    refused = curator_client.patch(f"/api/v1/push/{automatic.id}:abort")
    assert refused.status_code == 403
    assert "has no owner" in refused.json()["message"]
    assert admin_client_api.patch(f"/api/v1/push/{automatic.id}:abort").status_code == 200


def test_any_curator_may_push_another_curators_succeeded_package(
    other_curator, package, destination
) -> None:
    assert package.requested_by.username == "cora-curator"
    response = post_push(client_for(other_curator), package.id, destination)
    assert response.status_code == 202, response.json()
    assert response.json()["requestedBy"] == "otto-curator"


def test_files_of_a_push_and_the_ledger_search(
    curator_client,
    viewer_client,
    source_files,
    package_factory,
    dest_factory,
    allow_destination,
    django_capture_on_commit_callbacks,
) -> None:
    files = source_files(
        ("fastq/L1.fastq.gz", 10), ("fastq/L2.fastq.gz", 20), ("fastq/L3.fastq.gz", 30)
    )
    package = package_factory(files, libraries=["L1", "L2", "L3"])
    for library_id in ("L1", "L2", "L3"):
        PackageFile.objects.filter(
            package=package, relative_path=f"fastq/{library_id}.fastq.gz"
        ).update(library_id=library_id)
    metadata = {
        "L1": {"subject_id": "SBJ001", "external_subject_id": "PAT-1", "project_ids": ["CUP"]},
        "L2": {
            "subject_id": "SBJ002",
            "external_subject_id": "PAT-2",
            "project_ids": ["CUP", "PanCan"],
        },
        "L3": {"internal_subject_id": "SBJ003", "project_id": "PanCan"},
    }
    for library_id, values in metadata.items():
        PackageLibrary.objects.filter(package=package, library_id=library_id).update(
            metadata=values
        )
    dest_a = allow_destination(dest_factory("a").uri)
    dest_b = allow_destination(dest_factory("b").uri + "deliveries/")
    with django_capture_on_commit_callbacks(execute=True):
        job_a = post_push(curator_client, package.id, dest_a).json()["id"]
    with django_capture_on_commit_callbacks(execute=True):
        job_b = post_push(curator_client, package.id, dest_b).json()["id"]

    listing = viewer_client.get(f"/api/v1/push/{job_a}/files", {"rowsPerPage": 2}).json()
    assert listing["pagination"]["count"] == 3
    first = listing["results"][0]
    assert first["relativePath"] == "fastq/L1.fastq.gz"
    assert first["status"] == "SUCCEEDED"
    assert first["verificationMethod"] == "etag"
    assert first["sourceUri"] == f"s3://{files[0].bucket}/{files[0].key}"
    assert first["destinationUri"] == dest_a + "fastq/L1.fastq.gz"
    assert first["subjectId"] == "SBJ001" and first["projectIds"] == ["CUP"]
    failed_only = viewer_client.get(f"/api/v1/push/{job_a}/files", {"status": "FAILED"}).json()
    assert failed_only["results"] == []

    def search(**params: Any) -> set[tuple[str, str]]:
        response = viewer_client.get("/api/v1/push/files", params)
        assert response.status_code == 200, response.json()
        return {(r["pushJobId"], r["libraryId"]) for r in response.json()["results"]}

    assert search(libraryId="L1") == {(job_a, "L1"), (job_b, "L1")}
    assert search(subjectId="SBJ002") == {(job_a, "L2"), (job_b, "L2")}
    assert search(subjectId="PAT-1,SBJ003") == {
        (job_a, "L1"),
        (job_b, "L1"),
        (job_a, "L3"),
        (job_b, "L3"),
    }
    assert search(projectId="PanCan") == {
        (job_a, "L2"),
        (job_b, "L2"),
        (job_a, "L3"),
        (job_b, "L3"),
    }
    assert search(projectId="PanCan", destination=dest_b) == {(job_b, "L2"), (job_b, "L3")}
    assert search(libraryId="L9") == set()
    row = viewer_client.get(
        "/api/v1/push/files", {"libraryId": "L2", "packageId": package.id}
    ).json()["results"][0]
    assert row["packageId"] == package.id and row["requestedBy"] == "cora-curator"


def test_openapi_schema_documents_the_push_endpoints(anon_client) -> None:
    paths = anon_client.get("/schema/openapi.json").json()["paths"]
    assert {
        "/api/v1/package/{package_id}:push",
        "/api/v1/push",
        "/api/v1/push/{push_job_id}",
        "/api/v1/push/{push_job_id}:abort",
        "/api/v1/push/{push_job_id}/files",
        "/api/v1/push/files",
    } <= set(paths)


# --- Events ---------------------------------------------------------------------------------------------


def test_state_changes_are_published_to_eventbridge_after_commit(
    settings, curator_client, package, destination, django_capture_on_commit_callbacks
) -> None:
    moto = os.environ["TEST_MOTO_URL"]
    settings.EVENT_BUS_NAME = "datasharing-test-bus"
    settings.AWS_ENDPOINT_URL_EVENTS = moto
    events = boto3.client("events", endpoint_url=moto, region_name=settings.AWS_REGION)
    sqs = boto3.client("sqs", endpoint_url=moto, region_name=settings.AWS_REGION)
    events.create_event_bus(Name="datasharing-test-bus")
    queue_url = sqs.create_queue(QueueName="push-events")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    events.put_rule(
        Name="push-events",
        EventBusName="datasharing-test-bus",
        EventPattern=json.dumps({"detail-type": ["DataPushJobStateChange"]}),
    )
    events.put_targets(
        Rule="push-events",
        EventBusName="datasharing-test-bus",
        Targets=[{"Id": "q", "Arn": queue_arn}],
    )

    with django_capture_on_commit_callbacks(execute=True):
        job_id = post_push(curator_client, package.id, destination).json()["id"]

    statuses = []
    while True:
        received = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1
        )
        if not received.get("Messages"):
            break
        for message in received["Messages"]:
            event = json.loads(message["Body"])
            assert event["detail-type"] == "DataPushJobStateChange"
            assert event["source"] == settings.EVENT_SOURCE
            assert event["detail"]["id"] == job_id
            statuses.append(event["detail"]["status"])
    assert statuses == ["PENDING", "RUNNING", "SUCCEEDED"]
