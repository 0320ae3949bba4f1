"""Catalog importers over HTTP: workflows, fastq lists, storage sync; personas, bad input, 413."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.test import override_settings
from rest_framework.test import APIClient

from catalog_app.models import Fastq, Library, StoredObject, WorkflowRun
from datasharing import s3
from tests.catalog_app.test_catalog_api import upload
from tests.catalog_app.test_import_lims import import_lims, lims_file, lims_row
from tests.catalog_app.test_import_workflows_and_fastqs import WF_HEADER, _fastq_list, wf_row

pytestmark = pytest.mark.django_db

RUN_ID = "241024_A00130_0336_BHW7MVDSXC"


@pytest.fixture
def libraries() -> None:
    import_lims(text=lims_file(lims_row(), lims_row(library_id="L2401545", phenotype="normal")))


@pytest.fixture
def primary_bucket(source_bucket_factory: Callable[[str], str]) -> str:
    bucket = source_bucket_factory("primary")
    s3.put_object(bucket, "run1/L2401544_L001_R1.fastq.gz", b"r1-content")
    s3.put_object(bucket, "run1/L2401544_L001_R2.fastq.gz", b"r2-content!!")
    return bucket


def fastq_list() -> str:
    return _fastq_list(
        ("AAA.1", "L2401544", 1, "L2401544_L001_R1.fastq.gz", "L2401544_L001_R2.fastq.gz")
    )


def workflows() -> str:
    return "\n".join([WF_HEADER, wf_row(), wf_row(library_id="L2401545")]) + "\n"


def sync(client: APIClient, uri: str):  # type: ignore[no-untyped-def]
    return client.post("/api/v1/catalog/sync-storage", {"uri": uri}, format="json")


# --- Workflows ----------------------------------------------------------------------------------


def test_curator_imports_workflows_and_reimport_is_unchanged(
    curator_client: APIClient, libraries: None
) -> None:
    first = upload(curator_client, "workflows", workflows())
    assert first.status_code == 200, first.json()
    assert first.json() == {"created": 2, "updated": 0, "unchanged": 0}
    run = WorkflowRun.objects.get()
    assert run.portal_run_id == "20241114aabbccdd"
    assert sorted(run.libraries.values_list("library_id", flat=True)) == ["L2401544", "L2401545"]
    second = upload(curator_client, "workflows", workflows())
    assert second.json() == {"created": 0, "updated": 0, "unchanged": 2}
    assert WorkflowRun.objects.count() == 1


def test_bad_workflow_upload_is_400_with_line_and_column_and_imports_nothing(
    curator_client: APIClient, libraries: None
) -> None:
    text = "\n".join([WF_HEADER, wf_row(), wf_row(portal_run_id="2024-11-14")]) + "\n"
    response = upload(curator_client, "workflows", text)
    assert response.status_code == 400
    details = response.json()["details"]
    assert (details["line"], details["column"]) == (3, "portal_run_id")
    assert WorkflowRun.objects.count() == 0


# --- Fastq lists --------------------------------------------------------------------------------


def test_curator_imports_fastq_list_and_reimport_is_unchanged(
    curator_client: APIClient, libraries: None, primary_bucket: str
) -> None:
    fields = {"instrumentRunId": RUN_ID, "baseUri": f"s3://{primary_bucket}/run1/"}
    first = upload(curator_client, "fastq-list", fastq_list(), **fields)
    assert first.status_code == 200, first.json()
    assert first.json() == {
        "created": 1,
        "updated": 0,
        "unchanged": 0,
        "librariesCreated": 0,
        "missingInStorage": 0,
        "removed": 0,
    }
    fastq = Fastq.objects.select_related("run", "read1", "read2").get()
    assert fastq.run.instrument_run_id == RUN_ID
    assert fastq.read1.key == "run1/L2401544_L001_R1.fastq.gz" and fastq.read1.size == 10
    second = upload(curator_client, "fastq-list", fastq_list(), **fields)
    assert second.json()["unchanged"] == 1
    assert (second.json()["created"], second.json()["updated"]) == (0, 0)
    assert Fastq.objects.count() == 1


def test_bad_fastq_list_upload_is_400_with_line_and_column_and_imports_nothing(
    curator_client: APIClient, libraries: None, primary_bucket: str
) -> None:
    text = _fastq_list(
        ("AAA.1", "L2401544", 1, "L2401544_L001_R1.fastq.gz", ""),
        ("BBB.1", "L2401545", 99, "L2401545_L099_R1.fastq.gz", ""),
    )
    response = upload(
        curator_client,
        "fastq-list",
        text,
        instrumentRunId=RUN_ID,
        baseUri=f"s3://{primary_bucket}/run1/",
    )
    assert response.status_code == 400
    details = response.json()["details"]
    assert (details["line"], details["column"]) == (3, "Lane")
    assert Fastq.objects.count() == 0
    assert StoredObject.objects.count() == 0


# --- Storage sync -------------------------------------------------------------------------------


def test_curator_syncs_a_prefix_and_resync_is_unchanged(
    curator_client: APIClient, source_bucket_factory: Callable[[str], str]
) -> None:
    bucket = source_bucket_factory("analysis")
    s3.put_object(bucket, "analysis/wf/run1/a.bam", b"aaaa")
    s3.put_object(bucket, "analysis/wf/run1/b.vcf.gz", b"bb")
    s3.put_object(bucket, "elsewhere/c.txt", b"c")
    first = sync(curator_client, f"s3://{bucket}/analysis/wf/run1/")
    assert first.status_code == 200, first.json()
    assert first.json() == {"created": 2, "updated": 0, "unchanged": 0, "missing": 0}
    assert sorted(StoredObject.objects.values_list("key", flat=True)) == [
        "analysis/wf/run1/a.bam",
        "analysis/wf/run1/b.vcf.gz",
    ]
    second = sync(curator_client, f"s3://{bucket}/analysis/wf/run1/")
    assert second.json() == {"created": 0, "updated": 0, "unchanged": 2, "missing": 0}


def test_sync_storage_rejects_what_is_not_an_s3_uri(curator_client: APIClient) -> None:
    for uri in ("http://example.org/x/", "s3://", "not a uri"):
        response = sync(curator_client, uri)
        assert response.status_code == 400, (uri, response.json())
        assert response.json()["message"]
    assert StoredObject.objects.count() == 0


# --- Personas and limits ------------------------------------------------------------------------


def test_viewer_and_anonymous_cannot_import_or_sync(
    viewer_client: APIClient,
    anon_client: APIClient,
    libraries: None,
    primary_bucket: str,
) -> None:
    for client, code in ((viewer_client, 403), (anon_client, 401)):
        assert upload(client, "workflows", workflows()).status_code == code
        response = upload(
            client,
            "fastq-list",
            fastq_list(),
            instrumentRunId=RUN_ID,
            baseUri=f"s3://{primary_bucket}/run1/",
        )
        assert response.status_code == code
        assert sync(client, f"s3://{primary_bucket}/run1/").status_code == code
    assert WorkflowRun.objects.count() == 0
    assert Fastq.objects.count() == 0
    assert StoredObject.objects.count() == 0


@override_settings(CATALOG_UPLOAD_MAX_BYTES=64)
def test_uploads_above_the_catalog_limit_are_413_and_import_nothing(
    curator_client: APIClient, libraries: None, primary_bucket: str
) -> None:
    libraries_before = Library.objects.count()
    big_lims = lims_file(lims_row(library_id="L2409999"))
    assert len(big_lims.encode()) > 64
    responses = {
        "lims": upload(curator_client, "lims", big_lims),
        "workflows": upload(curator_client, "workflows", workflows()),
        "fastq-list": upload(
            curator_client,
            "fastq-list",
            fastq_list(),
            instrumentRunId=RUN_ID,
            baseUri=f"s3://{primary_bucket}/run1/",
        ),
    }
    for path, response in responses.items():
        assert response.status_code == 413, (path, response.json())
        assert "exceeds the limit of 64 bytes" in response.json()["message"]
    assert Library.objects.count() == libraries_before
    assert WorkflowRun.objects.count() == 0
    assert Fastq.objects.count() == 0
    # The same files under the limit go through: the limit, not the content, refused them.
    with override_settings(CATALOG_UPLOAD_MAX_BYTES=1024 * 1024):
        assert upload(curator_client, "workflows", workflows()).status_code == 200
