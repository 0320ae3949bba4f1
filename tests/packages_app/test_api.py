"""Package REST API: personas, create/list/get/abort/delete, contents, dry run, bad input."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.utils import timezone
from rest_framework.test import APIClient

from datasharing import s3
from packages_app.models import Package, PackageStatus
from tests.conftest import client_for
from tests.factories import make_frozen_package
from tests.packages_app.conftest import RUN_2, SUBJECT_1_NORMAL, SUBJECT_1_TUMOR, SUBJECT_1_WTS

pytestmark = pytest.mark.django_db

BODY = {
    "packageName": "subject-1",
    "packageRequest": {
        "libraryIdList": [SUBJECT_1_TUMOR, SUBJECT_1_NORMAL, SUBJECT_1_WTS],
        "dataTypeList": ["fastq", "secondaryAnalysis"],
    },
}


def create(client: APIClient, body: dict[str, Any] = BODY, capture: Any = None) -> Any:
    if capture is None:
        return client.post("/api/v1/package/", body, format="json")
    with capture(execute=True):
        return client.post("/api/v1/package/", body, format="json")


def pkg(status: str = PackageStatus.SUCCEEDED, name: str = "p", **fields: Any) -> Package:
    now = timezone.now()
    return Package.objects.create(
        package_name=name,
        status=status,
        request={"library_id_list": ["L1"], "data_type_list": ["fastq"]},
        completion_time=now if status in ("SUCCEEDED", "FAILED", "ABORTED") else None,
        **fields,
    )


# --- Permissions --------------------------------------------------------------------------------


def test_anonymous_and_roleless_users_get_nothing(
    anon_client: APIClient, stranger_client: APIClient
) -> None:
    package = pkg()
    for client, code in ((anon_client, 401), (stranger_client, 403)):
        assert client.get("/api/v1/package/").status_code == code
        assert client.get(f"/api/v1/package/{package.id}").status_code == code
        assert client.get(f"/api/v1/package/{package.id}/files").status_code == code
        assert create(client).status_code == code
        assert client.patch(f"/api/v1/package/{package.id}:abort").status_code == code
        assert client.delete(f"/api/v1/package/{package.id}").status_code == code
        assert client.post("/api/v1/package:dryRun", BODY, format="json").status_code == code
    assert Package.objects.count() == 1


def test_viewer_reads_and_dry_runs_but_cannot_create_abort_or_delete(
    viewer_client: APIClient, demo_catalog: Path
) -> None:
    running = pkg(PackageStatus.RUNNING)
    done = pkg()
    assert viewer_client.get("/api/v1/package/").status_code == 200
    assert viewer_client.get(f"/api/v1/package/{done.id}").status_code == 200
    assert viewer_client.post("/api/v1/package:dryRun", BODY, format="json").status_code == 200
    assert create(viewer_client).status_code == 403
    assert viewer_client.patch(f"/api/v1/package/{running.id}:abort").status_code == 403
    assert viewer_client.delete(f"/api/v1/package/{done.id}").status_code == 403
    assert Package.objects.count() == 2


def test_curator_creates_a_package_that_is_built(
    curator_client: APIClient, demo_catalog: Path, django_capture_on_commit_callbacks: Any
) -> None:
    response = create(curator_client, capture=django_capture_on_commit_callbacks)
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["id"].startswith("pkg.") and len(body["id"]) == 30
    assert body["packageName"] == "subject-1"
    assert body["status"] == "PENDING"
    assert body["requestedBy"] == "cora-curator"
    assert body["packageRequest"] == {
        "libraryIdList": [SUBJECT_1_TUMOR, SUBJECT_1_NORMAL, SUBJECT_1_WTS],
        "dataTypeList": ["fastq", "secondaryAnalysis"],
        "defrostArchivedFastqs": False,
        "useWorkflowFilters": True,
        "primaryDataPathPrefix": "fastq",
        "secondaryAnalysisPathPrefix": "secondary-analysis",
    }
    detail = curator_client.get(f"/api/v1/package/{body['id']}").json()
    assert detail["status"] == "SUCCEEDED", detail["errorMessage"]
    assert detail["fileCount"] == 39 and detail["libraryCount"] == 3
    assert detail["hasExpired"] is False and detail["completionTime"]
    assert detail["errorMessage"] == ""
    # A bare ULID is the same package.
    assert curator_client.get(f"/api/v1/package/{body['id'][4:]}").json()["id"] == body["id"]


def test_snake_case_bodies_and_the_no_slash_path_are_accepted(
    curator_client: APIClient, demo_catalog: Path
) -> None:
    response = curator_client.post(
        "/api/v1/package",
        {
            "package_name": "snake",
            "package_request": {"library_id_list": [SUBJECT_1_NORMAL], "data_type_list": ["fastq"]},
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    assert response.json()["packageRequest"]["libraryIdList"] == [SUBJECT_1_NORMAL]
    assert curator_client.get("/api/v1/package").json()["pagination"]["count"] == 1


# --- Bad input (SPEC §11) -----------------------------------------------------------------------


def test_unknown_ids_are_400_listing_them_and_create_nothing(
    curator_client: APIClient, demo_catalog: Path
) -> None:
    response = create(
        curator_client,
        {
            "packageName": "x1",
            "packageRequest": {
                "libraryIdList": ["L2400101", "L0000001", "L0000002"],
                "dataTypeList": ["fastq", "secondaryAnalysis"],
                "portalRunIdList": ["20990101deadbeef"],
            },
        },
    )
    assert response.status_code == 400
    body = response.json()
    assert body["details"]["unknown"] == {
        "libraryIdList": ["L0000001", "L0000002"],
        "portalRunIdList": ["20990101deadbeef"],
    }
    assert "L0000001, L0000002" in body["message"]
    assert Package.objects.count() == 0


@pytest.mark.parametrize(
    ("name", "prefix"),
    [
        ("a/b", "fastq"),
        ("..", "fastq"),
        ("has space", "fastq"),
        ("ctrl\x07char", "fastq"),
        ("good-name", "a/b"),
        ("good-name", ".."),
        ("good-name", "has space"),
        ("good-name", "ctrl\x07"),
    ],
)
def test_bad_names_and_prefixes_are_400(
    curator_client: APIClient, demo_catalog: Path, name: str, prefix: str
) -> None:
    response = create(
        curator_client,
        {
            "packageName": name,
            "packageRequest": {
                "libraryIdList": [SUBJECT_1_NORMAL],
                "dataTypeList": ["fastq"],
                "primaryDataPathPrefix": prefix,
            },
        },
    )
    assert response.status_code == 400, response.json()
    assert Package.objects.count() == 0


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"packageName": "x1"},
        {"packageName": 5, "packageRequest": {}},
        {"packageName": "x1", "packageRequest": "libraries please"},
        {"packageName": "x1", "packageRequest": {"libraryIdList": [1, 2], "dataTypeList": "fastq"}},
        {"packageName": ["x"], "packageRequest": {"libraryIdList": [{"a": 1}]}},
        {"packageName": "x1", "packageRequest": {"libraryIdList": None, "dataTypeList": [None]}},
        [1, 2, 3],
    ],
)
def test_wrong_types_are_400_never_500(curator_client: APIClient, body: Any) -> None:
    response = curator_client.post("/api/v1/package/", body, format="json")
    assert response.status_code == 400
    assert response.json()["message"]


def test_deep_and_huge_bodies_are_rejected(curator_client: APIClient, settings: Any) -> None:
    deep = '{"packageName": "x", "packageRequest": ' + "[" * 50_000 + "]" * 50_000 + "}"
    response = curator_client.post("/api/v1/package/", deep, content_type="application/json")
    assert response.status_code in (400, 413)
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    huge = json.dumps(
        {
            "packageName": "x",
            "packageRequest": {"libraryIdList": [f"L{i:07d}" for i in range(5000)]},
        }
    )
    response = curator_client.post("/api/v1/package/", huge, content_type="application/json")
    assert response.status_code == 413


def test_unknown_package_ids_are_404(viewer_client: APIClient) -> None:
    for path in [
        "/api/v1/package/pkg.01JD5V7Q3S8K2M4N6P8R0T2V4X",
        "/api/v1/package/psh.01JD5V7Q3S8K2M4N6P8R0T2V4X",
        "/api/v1/package/not-an-id",
        "/api/v1/package/pkg.01JD5V7Q3S8K2M4N6P8R0T2V4X/files",
    ]:
        response = viewer_client.get(path)
        assert response.status_code == 404, path
        assert response.json()["message"]


# --- List ---------------------------------------------------------------------------------------


def test_list_is_newest_first_paginated_in_the_database_with_working_links(
    viewer_client: APIClient, django_assert_max_num_queries: Any
) -> None:
    base = timezone.now()
    ids = [pkg(name=f"p{i}", request_time=base - dt.timedelta(minutes=i)).id for i in range(7)]
    with django_assert_max_num_queries(6):
        first = viewer_client.get("/api/v1/package/?rowsPerPage=3").json()
    assert [p["id"] for p in first["results"]] == ids[:3]
    assert first["pagination"] == {"page": 1, "rowsPerPage": 3, "count": 7}
    second = viewer_client.get(first["links"]["next"]).json()
    assert [p["id"] for p in second["results"]] == ids[3:6]
    third = viewer_client.get(second["links"]["next"]).json()
    assert [p["id"] for p in third["results"]] == ids[6:]
    assert third["links"]["next"] is None
    assert viewer_client.get("/api/v1/package/?page=9").status_code == 404


def test_list_filters(viewer_client: APIClient) -> None:
    now = timezone.now()
    old = pkg(name="alpha", request_time=now - dt.timedelta(days=10))
    Package.objects.filter(id=old.id).update(completion_time=now - dt.timedelta(days=9))
    failed = pkg(PackageStatus.FAILED, name="beta", request_time=now - dt.timedelta(days=5))
    running = pkg(PackageStatus.RUNNING, name="gamma", request_time=now - dt.timedelta(days=1))

    def ids(query: str) -> set[str]:
        response = viewer_client.get(f"/api/v1/package/?{query}")
        assert response.status_code == 200, response.json()
        return {p["id"] for p in response.json()["results"]}

    assert ids("packageName=alpha") == {old.id}
    assert ids("packageName=alpha&packageName=gamma") == {old.id, running.id}
    assert ids("packageName=alpha,beta") == {old.id, failed.id}
    assert ids("packageName[]=beta") == {failed.id}
    assert ids("status=FAILED&status=RUNNING") == {failed.id, running.id}
    assert ids("status[]=SUCCEEDED") == {old.id}
    day = (now - dt.timedelta(days=3)).date().isoformat()
    assert ids(f"requestAfter={day}") == {running.id}
    assert ids(f"requestBefore={day}") == {old.id, failed.id}
    assert ids(
        f"completedBefore={(now - dt.timedelta(days=8)).isoformat()}".replace("+", "%2B")
    ) == {old.id}
    assert ids(f"completedAfter={(now - dt.timedelta(days=8)).date()}") == {failed.id}


@pytest.mark.parametrize(
    "query",
    [
        "status=DONE",
        "requestAfter=yesterday",
        "completedBefore=2024-13-45",
        "rowsPerPage=0",
        # Out of range once in UTC (SQLite, make run's database, overflowed with a 500).
        "requestAfter=0001-01-01T00:00:00%2B01:00",
        "completedBefore=9999-12-31T23:00:00-05:00",
    ],
)
def test_bad_list_filters_are_400(viewer_client: APIClient, query: str) -> None:
    response = viewer_client.get(f"/api/v1/package/?{query}")
    assert response.status_code == 400
    assert response.json()["message"]


# --- Abort and delete ---------------------------------------------------------------------------


def test_curator_aborts_their_own_package_and_terminal_ones_are_409(
    curator_client: APIClient, curator: Any
) -> None:
    mine = pkg(PackageStatus.UNARCHIVING, requested_by=curator)
    response = curator_client.patch(f"/api/v1/package/{mine.id}:abort")
    assert response.status_code == 200
    assert response.json()["status"] == "ABORTED"
    assert response.json()["errorMessage"] == "Aborted by cora-curator."
    again = curator_client.patch(f"/api/v1/package/{mine.id}:abort")
    assert again.status_code == 409
    assert "already ABORTED" in again.json()["message"]


def test_curators_cannot_abort_each_others_packages_but_admins_can(
    curator_client: APIClient, other_curator: Any, admin_user: Any
) -> None:
    theirs = pkg(PackageStatus.RUNNING, requested_by=other_curator)
    refused = curator_client.patch(f"/api/v1/package/{theirs.id}:abort")
    assert refused.status_code == 403
    assert refused.json()["message"] == (
        f"Package {theirs.id} was requested by otto-curator: only they or an admin may abort it."
    )
    assert refused.json()["details"] == {"owner": "otto-curator"}
    theirs.refresh_from_db()
    assert theirs.status == PackageStatus.RUNNING
    response = client_for(admin_user).patch(f"/api/v1/package/{theirs.id}:abort")
    assert response.status_code == 200
    assert response.json()["errorMessage"] == "Aborted by ada-admin."


def test_packages_made_by_automation_are_aborted_by_admins_only(
    curator_client: APIClient, admin_user: Any
) -> None:
    automatic = pkg(PackageStatus.PENDING)  # no requester: an automatic share's package
    refused = curator_client.patch(f"/api/v1/package/{automatic.id}:abort")
    assert refused.status_code == 403
    assert refused.json()["message"] == (
        f"Package {automatic.id} has no owner (made by automation or a command without a user): "
        "only an admin may abort it."
    )
    assert client_for(admin_user).patch(f"/api/v1/package/{automatic.id}:abort").status_code == 200


def test_delete_is_refused_while_running(curator_client: APIClient, curator: Any) -> None:
    for status in ("PENDING", "RUNNING", "UNARCHIVING"):
        package = pkg(status, requested_by=curator)
        response = curator_client.delete(f"/api/v1/package/{package.id}")
        assert response.status_code == 409
        assert "abort it before deleting it" in response.json()["message"]
    assert Package.objects.count() == 3


def test_delete_works_when_the_artifact_bucket_does_not_exist(
    curator_client: APIClient, curator: Any, settings: Any, demo_storage: None
) -> None:
    """Found by the API fuzz campaign: NoSuchBucket from the artifact cleanup was a 500."""
    settings.ARTIFACT_BUCKET = "datasharing-artifacts-never-made"
    package = pkg(requested_by=curator)
    response = curator_client.delete(f"/api/v1/package/{package.id}")
    assert response.status_code == 204
    assert not Package.objects.filter(id=package.id).exists()


def test_delete_removes_the_package_and_its_artifacts(
    curator_client: APIClient, curator: Any, other_curator: Any, admin_user: Any, demo_storage: None
) -> None:
    mine = pkg(requested_by=curator)
    s3.ensure_bucket(settings.ARTIFACT_BUCKET)
    for name in ("manifest.tsv", "report/SummaryReport.x.html"):
        s3.put_object(settings.ARTIFACT_BUCKET, s3.artifact_key(mine.id, name), b"x")
    theirs = pkg(requested_by=other_curator)
    assert curator_client.delete(f"/api/v1/package/{theirs.id}").status_code == 403
    response = curator_client.delete(f"/api/v1/package/{mine.id}")
    assert response.status_code == 204
    assert not Package.objects.filter(id=mine.id).exists()
    assert list(s3.list_objects(settings.ARTIFACT_BUCKET, s3.artifact_key(mine.id) + "/")) == []
    # Admins may delete anyone's package.
    assert client_for(admin_user).delete(f"/api/v1/package/{theirs.id}").status_code == 204
    assert curator_client.delete(f"/api/v1/package/{theirs.id}").status_code == 404


def test_another_curators_package_is_403_naming_them_before_its_state_is_told(
    curator_client: APIClient, other_curator: Any
) -> None:
    running = pkg(PackageStatus.RUNNING, requested_by=other_curator)
    done = pkg(requested_by=other_curator)
    for package in (running, done):
        refused = curator_client.delete(f"/api/v1/package/{package.id}")
        assert refused.status_code == 403
        assert refused.json()["message"] == (
            f"Package {package.id} was requested by otto-curator: only they or an admin may "
            "delete it."
        )
    assert Package.objects.count() == 2


# --- Contents -----------------------------------------------------------------------------------


def test_contents_endpoints_are_paginated(
    viewer_client: APIClient,
    curator_client: APIClient,
    demo_catalog: Path,
    django_capture_on_commit_callbacks: Any,
) -> None:
    package_id = create(curator_client, capture=django_capture_on_commit_callbacks).json()["id"]
    base = f"/api/v1/package/{package_id}"
    libraries = viewer_client.get(f"{base}/libraries").json()
    assert [lib["libraryId"] for lib in libraries["results"]] == [
        SUBJECT_1_TUMOR,
        SUBJECT_1_NORMAL,
        SUBJECT_1_WTS,
    ]
    assert libraries["results"][0]["metadata"]["subjectId"] == "SBJ00102"
    fastqs = viewer_client.get(f"{base}/fastqs?rowsPerPage=4").json()
    assert fastqs["pagination"]["count"] == 10
    assert len(fastqs["results"]) == 4
    assert fastqs["links"]["next"]
    first = fastqs["results"][0]
    assert first["relativePath"].startswith(f"fastq/{RUN_2}/Lane_1/")
    assert first["instrumentRunId"] == RUN_2 and first["lane"] == 1 and first["readNumber"] == 1
    assert first["sourceUri"].startswith("s3://")
    analyses = viewer_client.get(f"{base}/analyses").json()["results"]
    assert sorted(a["workflowName"] for a in analyses) == [
        "rnasum",
        "tumor-normal",
        "umccrise",
        "wts",
    ]
    files = viewer_client.get(f"{base}/files?rowsPerPage=1000").json()
    assert files["pagination"]["count"] == 39
    paths = [f["relativePath"] for f in files["results"]]
    assert paths == sorted(paths)
    secondary = viewer_client.get(f"{base}/files?dataType=secondaryAnalysis").json()
    assert secondary["pagination"]["count"] == 29


def test_contents_of_a_frozen_package_built_by_the_factory(
    viewer_client: APIClient, demo_storage: None
) -> None:
    key = f"primary/{RUN_2}/Reports/fastq_list.csv"
    package = make_frozen_package(files=[(settings.DEMO_PRIMARY_BUCKET, key, "reports/list.csv")])
    files = viewer_client.get(f"/api/v1/package/{package.id}/files").json()["results"]
    assert [f["relativePath"] for f in files] == ["reports/list.csv"]


# --- Dry run ------------------------------------------------------------------------------------


def test_dry_run_answers_counts_and_creates_nothing(
    curator_client: APIClient, demo_catalog: Path
) -> None:
    response = curator_client.post(
        "/api/v1/package:dryRun",
        {
            "packageName": "look-first",
            "packageRequest": {"subjectIdList": ["SBJ00101"], "dataTypeList": ["fastq"]},
        },
        format="json",
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["packageName"] == "look-first"
    assert (body["libraryCount"], body["fastqCount"], body["fileCount"]) == (3, 6, 12)
    assert body["archivedFileCount"] == 6 and body["unrestoredFileCount"] == 6
    assert body["archivedBytes"] > 0 and body["totalBytes"] > body["archivedBytes"]
    assert body["byDataType"]["fastq"]["fileCount"] == 12
    assert body["packageRequest"]["subjectIdList"] == ["SBJ00101"]
    assert Package.objects.count() == 0


def test_dry_run_reports_the_error_packaging_would_end_with(
    viewer_client: APIClient, demo_catalog: Path
) -> None:
    response = viewer_client.post(
        "/api/v1/package:dryRun",
        {
            "packageName": "nothing",
            "packageRequest": {
                "libraryIdList": [SUBJECT_1_NORMAL],
                "dataTypeList": ["secondaryAnalysis"],
                "secondaryAnalysisTypeList": ["wts"],
            },
        },
        format="json",
    )
    assert response.status_code == 400
    assert "matches no files" in response.json()["message"]


def test_openapi_documents_the_package_endpoints(anon_client: APIClient) -> None:
    paths = anon_client.get("/schema/openapi.json").json()["paths"]
    for path in [
        "/api/v1/package/",
        "/api/v1/package/{package_id}",
        "/api/v1/package/{package_id}:abort",
        "/api/v1/package:dryRun",
        "/api/v1/package/{package_id}/libraries",
        "/api/v1/package/{package_id}/fastqs",
        "/api/v1/package/{package_id}/analyses",
        "/api/v1/package/{package_id}/files",
    ]:
        assert path in paths, path
