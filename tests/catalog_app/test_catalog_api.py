from __future__ import annotations

from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from catalog_app.models import Library, SequencingRun, StoredObject
from tests.catalog_app.test_import_lims import lims_file, lims_row
from tests.conftest import allow_source

pytestmark = pytest.mark.django_db


def upload(client: APIClient, path: str, text: str, **extra: str):  # type: ignore[no-untyped-def]
    return client.post(
        f"/api/v1/catalog/import/{path}",
        {"file": SimpleUploadedFile("upload.csv", text.encode(), content_type="text/csv"), **extra},
        format="multipart",
    )


def test_anonymous_requests_get_401(anon_client: APIClient) -> None:
    response = anon_client.get("/api/v1/catalog/libraries")
    assert response.status_code == 401
    assert response.json()["message"]
    assert response["WWW-Authenticate"] == "Bearer"


def test_invalid_token_gets_401(anon_client: APIClient) -> None:
    anon_client.credentials(HTTP_AUTHORIZATION="Bearer not-a-token")
    assert anon_client.get("/api/v1/catalog/libraries").status_code == 401


def test_token_scheme_is_accepted(viewer) -> None:  # type: ignore[no-untyped-def]
    from datasharing.tokens import api_token_create

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_token_create(user=viewer)[1]}")
    assert client.get("/api/v1/catalog/libraries").status_code == 200


def test_user_without_role_gets_403(stranger_client: APIClient) -> None:
    assert stranger_client.get("/api/v1/catalog/libraries").status_code == 403


def test_viewer_reads_but_cannot_import(viewer_client: APIClient) -> None:
    assert viewer_client.get("/api/v1/catalog/libraries").status_code == 200
    response = upload(viewer_client, "lims", lims_file(lims_row()))
    assert response.status_code == 403
    assert Library.objects.count() == 0


def test_curator_imports_lims_upload_and_reimport_is_unchanged(curator_client: APIClient) -> None:
    first = upload(curator_client, "lims", lims_file(lims_row()))
    assert first.status_code == 200, first.json()
    assert first.json() == {"created": 1, "updated": 0, "unchanged": 0}
    second = upload(curator_client, "lims", lims_file(lims_row()))
    assert second.json() == {"created": 0, "updated": 0, "unchanged": 1}


def test_bad_upload_is_400_with_line_and_column_and_imports_nothing(
    curator_client: APIClient,
) -> None:
    response = upload(curator_client, "lims", lims_file(lims_row(), lims_row(library_id="L 1")))
    assert response.status_code == 400
    body = response.json()
    assert body["details"]["line"] == 3 and body["details"]["column"] == "library_id"
    assert Library.objects.count() == 0


def test_empty_and_binary_uploads_are_400(curator_client: APIClient) -> None:
    assert upload(curator_client, "lims", "").status_code == 400
    response = curator_client.post(
        "/api/v1/catalog/import/lims",
        {"file": SimpleUploadedFile("x.csv", b"\xff\xfe\x00garbage")},
        format="multipart",
    )
    assert response.status_code == 400
    assert (
        curator_client.post("/api/v1/catalog/import/lims", {}, format="multipart").status_code
        == 400
    )


def test_fastq_list_upload_requires_run_and_base_uri(curator_client: APIClient) -> None:
    response = upload(
        curator_client,
        "fastq-list",
        "RGID,RGSM,RGLB,Lane,Read1File,Read2File\nA,L1,L1,1,a.fastq.gz,\n",
    )
    assert response.status_code == 400
    assert "instrumentRunId" in response.json()["message"]
    response = upload(
        curator_client,
        "fastq-list",
        "RGID,RGSM,RGLB,Lane,Read1File,Read2File\nA,L1,L1,1,a.fastq.gz,\n",
        instrumentRunId="R1",
        baseUri="http://example.com/x",
    )
    assert response.status_code == 400
    assert "S3 URI" in response.json()["message"]


def test_pagination_envelope_and_links(viewer_client: APIClient, demo_catalog: Path) -> None:
    first = viewer_client.get("/api/v1/catalog/libraries?rowsPerPage=5").json()
    assert set(first) == {"links", "pagination", "results"}
    assert first["pagination"] == {"page": 1, "rowsPerPage": 5, "count": 21}
    assert first["links"]["previous"] is None
    seen = [row["libraryId"] for row in first["results"]]
    next_url = first["links"]["next"]
    while next_url:
        page = viewer_client.get(next_url).json()
        seen.extend(row["libraryId"] for row in page["results"])
        next_url = page["links"]["next"]
    assert len(seen) == 21 and len(set(seen)) == 21 and seen == sorted(seen)
    last = viewer_client.get("/api/v1/catalog/libraries?rowsPerPage=5&page=5").json()
    assert last["links"]["next"] is None and "page=4" in last["links"]["previous"]


def test_bad_pagination_parameters_are_client_errors(viewer_client: APIClient) -> None:
    assert viewer_client.get("/api/v1/catalog/libraries?rowsPerPage=abc").status_code == 400
    assert viewer_client.get("/api/v1/catalog/libraries?rowsPerPage=0").status_code == 400
    assert viewer_client.get("/api/v1/catalog/libraries?rowsPerPage=100000").status_code == 400
    assert viewer_client.get("/api/v1/catalog/libraries?page=-1").status_code == 400
    assert viewer_client.get("/api/v1/catalog/libraries?page=99").status_code == 404


def test_library_filters(viewer_client: APIClient, demo_catalog: Path) -> None:
    by_project = viewer_client.get(
        "/api/v1/catalog/libraries?projectId=PanCan&rowsPerPage=100"
    ).json()
    assert by_project["pagination"]["count"] > 0
    assert all(row["projectIds"] == ["PanCan"] for row in by_project["results"])
    by_subject = viewer_client.get("/api/v1/catalog/libraries?subjectId=SBJ00101").json()
    assert {row["subjectId"] for row in by_subject["results"]} == {"SBJ00101"}
    by_external = viewer_client.get("/api/v1/catalog/libraries?subjectId=PM3045670").json()
    assert by_external["pagination"]["count"] == by_subject["pagination"]["count"]
    repeated = viewer_client.get(
        "/api/v1/catalog/libraries?libraryId=L2400101&libraryId=L2400102"
    ).json()
    assert [row["libraryId"] for row in repeated["results"]] == ["L2400101", "L2400102"]
    run = "241115_A00130_0340_BH2YLKDSXD"
    on_run = viewer_client.get(f"/api/v1/catalog/libraries?instrumentRunId={run}").json()
    assert all(run in row["instrumentRunIds"] for row in on_run["results"])


def test_runs_and_workflow_runs(viewer_client: APIClient, demo_catalog: Path) -> None:
    runs = viewer_client.get("/api/v1/catalog/runs").json()
    assert runs["pagination"]["count"] == 3
    assert all(row["libraryCount"] > 0 for row in runs["results"])
    failed = viewer_client.get("/api/v1/catalog/workflow-runs?status=FAILED").json()
    assert failed["pagination"]["count"] == 1
    assert failed["results"][0]["workflowName"] == "tumor-normal"
    assert failed["results"][0]["portalRunId"][:8].isdigit()
    cttso = viewer_client.get("/api/v1/catalog/workflow-runs?workflowName=cttsov2").json()
    assert cttso["pagination"]["count"] == 2 and len(cttso["results"][0]["libraryIds"]) == 1


def test_importing_from_a_bucket_that_does_not_exist_is_400_and_writes_nothing(
    curator_client: APIClient,
) -> None:
    allow_source("s3://no-such-bucket-here/")
    response = curator_client.post(
        "/api/v1/catalog/sync-storage", {"uri": "s3://no-such-bucket-here/runs/"}, format="json"
    )
    assert response.status_code == 400
    assert "s3://no-such-bucket-here/runs/: NoSuchBucket" in response.json()["message"]
    response = upload(
        curator_client,
        "fastq-list",
        "RGID,RGSM,RGLB,Lane,Read1File,Read2File\nA,L2400101,L2400101,1,a.fastq.gz,\n",
        instrumentRunId="241101_A01052_0221_AHVTC2DSXC",
        baseUri="s3://no-such-bucket-here/run/",
    )
    assert response.status_code == 400
    assert "NoSuchBucket" in response.json()["message"]
    assert not Library.objects.exists()
    assert not SequencingRun.objects.exists()
    assert not StoredObject.objects.exists()
