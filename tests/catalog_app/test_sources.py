"""Allowed catalogue sources: the policy itself, its admin page, and every way into the catalog
(workflow and fastq list importers, sync-storage API and command) refusing what is outside it;
the artifact bucket is never a source."""

from __future__ import annotations

import io
from collections.abc import Callable

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.test import Client
from rest_framework.test import APIClient

from catalog_app.importers.storage import catalog_sync_storage
from catalog_app.models import Fastq, StoredObject, WorkflowRun
from catalog_app.sources.models import AllowedSource
from catalog_app.sources.policy import (
    source_is_allowed,
    source_policy_load,
    source_require_allowed,
    sources_overlapping,
)
from catalog_app.sources.source import source_prefix_parse
from datasharing import s3
from datasharing.errors import DomainError
from tests.catalog_app.test_catalog_api import upload
from tests.catalog_app.test_import_lims import import_lims, lims_file, lims_row
from tests.catalog_app.test_import_workflows_and_fastqs import (
    WF_HEADER,
    _fastq_list,
    import_fastq_list,
    import_workflows,
    wf_row,
)

pytestmark = pytest.mark.django_db

RUN_ID = "241024_A00130_0336_BHW7MVDSXC"
ARTIFACTS = "datasharing-artifacts"


@pytest.fixture(autouse=True)
def only_configured_sources(settings) -> None:  # type: ignore[no-untyped-def]
    settings.ARTIFACT_BUCKET = ARTIFACTS
    settings.CATALOG_ALLOWED_SOURCES = ["s3://facility-primary/primary/", "s3://facility-analysis"]


# --- The policy ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("uri", "allowed"),
    [
        ("s3://facility-primary/primary/", True),
        ("s3://facility-primary/primary/RUN/L1_R1.fastq.gz", True),
        ("s3://facility-primary/primary", False),  # the prefix's parent folder, not inside it
        ("s3://facility-primary/primary-other/x", False),
        ("s3://facility-primary/", False),
        ("s3://facility-analysis/", True),
        ("s3://facility-analysis/anything/at/all.bam", True),
        ("s3://recipient-bucket/incoming/", False),
        ("s3://datasharing-artifacts/packages/pkg.X/download-data.sh", False),
        ("not a uri", False),
    ],
)
def test_sources_contain_their_prefix_and_what_is_below_it(uri: str, allowed: bool) -> None:
    assert source_is_allowed(uri) is allowed


def test_admin_rows_add_sources_and_disabled_rows_do_not(settings) -> None:  # type: ignore[no-untyped-def]
    AllowedSource.objects.create(prefix="s3://lab-bucket/runs/")
    AllowedSource.objects.create(prefix="s3://old-bucket/", enabled=False)
    assert source_is_allowed("s3://lab-bucket/runs/x.fastq.gz")
    assert not source_is_allowed("s3://old-bucket/x.fastq.gz")


def test_the_artifact_bucket_is_never_a_source_whatever_the_configuration_says(settings) -> None:  # type: ignore[no-untyped-def]
    settings.CATALOG_ALLOWED_SOURCES = [f"s3://{ARTIFACTS}/", f"s3://{ARTIFACTS}/packages/"]
    AllowedSource.objects.bulk_create([AllowedSource(prefix=f"s3://{ARTIFACTS}/other/")])
    assert source_policy_load().sources == ()
    assert not source_is_allowed(f"s3://{ARTIFACTS}/packages/pkg.X/manifest.tsv")
    assert not source_is_allowed(f"s3://{ARTIFACTS}/other/x")
    for value in (f"s3://{ARTIFACTS}", f"s3://{ARTIFACTS}/packages/"):
        with pytest.raises(DomainError, match="artifact bucket"):
            source_prefix_parse(value)


def test_with_nothing_configured_nothing_is_a_source_and_the_error_says_where_to_add_one(
    settings,  # type: ignore[no-untyped-def]
) -> None:
    settings.CATALOG_ALLOWED_SOURCES = []
    with pytest.raises(DomainError) as refused:
        source_require_allowed("s3://facility-primary/primary/x")
    message = refused.value.message
    assert "s3://facility-primary/primary/x" in message
    assert "no catalogue sources are configured" in message
    assert "CATALOG_ALLOWED_SOURCES" in message and "Allowed sources" in message


def test_malformed_configured_sources_are_ignored(settings) -> None:  # type: ignore[no-untyped-def]
    settings.CATALOG_ALLOWED_SOURCES = ["https://x/", "s3://UPPER/", "s3://ok-bucket/in"]
    assert [s.uri for s in source_policy_load().sources] == ["s3://ok-bucket/in/"]


def test_overlap_is_either_prefix_containing_the_other() -> None:
    assert sources_overlapping(bucket="facility-primary", prefix="primary/RUN/") == [
        "s3://facility-primary/primary/"
    ]
    assert sources_overlapping(bucket="facility-primary", prefix="") == [
        "s3://facility-primary/primary/"
    ]
    assert sources_overlapping(bucket="facility-primary", prefix="outgoing/") == []
    assert sources_overlapping(bucket="facility-primary", prefix="primary-x/") == []
    assert sources_overlapping(bucket="facility-analysis", prefix="shared/") == [
        "s3://facility-analysis/"
    ]
    assert sources_overlapping(bucket=ARTIFACTS, prefix="elsewhere/") == [
        f"s3://{ARTIFACTS}/ (the artifact bucket)"
    ]


# --- Admin page ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "stored"),
    [("s3://lab-bucket/runs", "s3://lab-bucket/runs/"), (" s3://lab-bucket ", "s3://lab-bucket/")],
)
def test_admin_entries_are_validated_and_normalised(raw: str, stored: str) -> None:
    entry = AllowedSource(prefix=raw)
    entry.full_clean()
    assert entry.prefix == stored


@pytest.mark.parametrize(
    "raw",
    ["https://lab/x/", "s3://lab-bucket/../x/", f"s3://{ARTIFACTS}/", f"s3://{ARTIFACTS}/x/", ""],
)
def test_admin_refuses_malformed_entries_and_the_artifact_bucket(raw: str) -> None:
    with pytest.raises(ValidationError) as refused:
        AllowedSource(prefix=raw).full_clean()
    assert "prefix" in refused.value.message_dict


def test_the_admin_add_page_saves_a_normalised_source_with_its_author() -> None:
    admin = User.objects.create_superuser("root-admin", "root@example.org", None)
    browser = Client()
    browser.force_login(admin)
    url = "/admin/catalog_app/allowedsource/add/"
    refused = browser.post(url, {"prefix": f"s3://{ARTIFACTS}/", "enabled": "on"})
    assert refused.status_code == 200 and "never a source" in refused.content.decode()
    saved = browser.post(url, {"prefix": "s3://lab-bucket/runs", "enabled": "on"})
    assert saved.status_code == 302
    entry = AllowedSource.objects.get()
    assert (entry.prefix, entry.created_by) == ("s3://lab-bucket/runs/", admin)


# --- Importers ----------------------------------------------------------------------------------


@pytest.fixture
def libraries() -> None:
    import_lims(text=lims_file(lims_row(), lims_row(library_id="L2401545", phenotype="normal")))


def workflow_file(*rows: str) -> str:
    return "\n".join([WF_HEADER + ",output_uri", *rows]) + "\n"


def test_a_workflow_output_uri_into_a_package_folder_of_the_artifact_bucket_is_refused(
    libraries: None,
) -> None:
    """Issue 16: a workflow row pointing into another package's folder in the artifact bucket
    produced a package holding that package's live download script."""
    stolen = f"s3://{ARTIFACTS}/packages/pkg.01JAAAAAAAAAAAAAAAAAAAAAAA/"
    text = workflow_file(
        wf_row() + ",s3://facility-analysis/analysis/tn/20241114aabbccdd/",
        wf_row(portal_run_id="20241114aabbccde") + f",{stolen}",
    )
    with pytest.raises(DomainError) as refused:
        import_workflows(text=text)
    assert refused.value.details["line"] == 3
    assert refused.value.details["column"] == "output_uri"
    assert refused.value.details["notAllowedSources"] == [stolen]
    assert stolen in refused.value.message
    assert WorkflowRun.objects.count() == 0


def test_a_workflow_output_from_the_template_outside_the_sources_is_refused(
    libraries: None, settings
) -> None:  # type: ignore[no-untyped-def]
    settings.WORKFLOW_OUTPUT_BUCKET = "somewhere-else"
    with pytest.raises(DomainError, match="WORKFLOW_OUTPUT_URI_TEMPLATE") as refused:
        import_workflows(text="\n".join([WF_HEADER, wf_row()]) + "\n")
    assert refused.value.details["line"] == 2
    assert WorkflowRun.objects.count() == 0
    settings.WORKFLOW_OUTPUT_BUCKET = "facility-analysis"
    assert import_workflows(text="\n".join([WF_HEADER, wf_row()]) + "\n").created == 1


def test_the_workflow_import_api_answers_400_naming_the_uri(
    curator_client: APIClient, libraries: None
) -> None:
    text = workflow_file(wf_row() + ",s3://recipient-bucket/incoming/")
    response = upload(curator_client, "workflows", text)
    assert response.status_code == 400
    assert "s3://recipient-bucket/incoming/" in response.json()["message"]
    assert WorkflowRun.objects.count() == 0


def test_a_fastq_list_outside_the_sources_is_refused(libraries: None) -> None:
    with pytest.raises(DomainError, match="base URI s3://recipient-bucket/run1/"):
        import_fastq_list(
            text=_fastq_list(("A.1", "L2401544", 1, "a_R1.fastq.gz", "")),
            instrument_run_id=RUN_ID,
            base_uri="s3://recipient-bucket/run1/",
        )
    assert Fastq.objects.count() == StoredObject.objects.count() == 0


def test_a_fastq_list_file_given_as_a_uri_outside_the_sources_is_refused_with_its_line(
    libraries: None,
) -> None:
    text = _fastq_list(
        ("A.1", "L2401544", 1, "a_R1.fastq.gz", ""),
        ("B.1", "L2401545", 1, "s3://facility-primary/elsewhere/b_R1.fastq.gz", ""),
    )
    with pytest.raises(DomainError) as refused:
        import_fastq_list(
            text=text, instrument_run_id=RUN_ID, base_uri="s3://facility-primary/primary/run1/"
        )
    assert (refused.value.details["line"], refused.value.details["column"]) == (3, "Read1File")
    assert "s3://facility-primary/elsewhere/b_R1.fastq.gz" in refused.value.message
    assert Fastq.objects.count() == StoredObject.objects.count() == 0


def test_the_fastq_list_api_answers_400_for_a_base_uri_outside_the_sources(
    curator_client: APIClient, libraries: None
) -> None:
    response = upload(
        curator_client,
        "fastq-list",
        _fastq_list(("A.1", "L2401544", 1, "a_R1.fastq.gz", "")),
        instrumentRunId=RUN_ID,
        baseUri=f"s3://{ARTIFACTS}/packages/",
    )
    assert response.status_code == 400
    assert f"s3://{ARTIFACTS}/packages/" in response.json()["message"]
    assert Fastq.objects.count() == 0


# --- sync-storage -------------------------------------------------------------------------------


def test_sync_storage_of_a_recipient_bucket_is_400_naming_the_uri_and_catalogues_nothing(
    curator_client: APIClient, bucket_factory: Callable[[str], str]
) -> None:
    """Issue 16: `sync-storage` of a recipient bucket catalogued what the recipient holds."""
    recipient = bucket_factory("recipient")
    s3.put_object(recipient, "incoming/secret.bam", b"theirs")
    uri = f"s3://{recipient}/"
    response = curator_client.post("/api/v1/catalog/sync-storage", {"uri": uri}, format="json")
    assert response.status_code == 400
    assert uri in response.json()["message"]
    with pytest.raises(CommandError, match=recipient):
        call_command("sync_storage", f"s3://{recipient}/incoming/")
    assert StoredObject.objects.count() == 0


def test_sync_storage_of_the_artifact_bucket_is_refused_even_when_configured(
    curator_client: APIClient, settings
) -> None:  # type: ignore[no-untyped-def]
    settings.CATALOG_ALLOWED_SOURCES = [f"s3://{ARTIFACTS}/"]
    s3.ensure_bucket(ARTIFACTS)
    s3.put_object(ARTIFACTS, "packages/pkg.X/download-data.pkg.sh", b"#!/bin/bash\n")
    uri = f"s3://{ARTIFACTS}/packages/"
    response = curator_client.post("/api/v1/catalog/sync-storage", {"uri": uri}, format="json")
    assert response.status_code == 400
    assert uri in response.json()["message"]
    assert StoredObject.objects.count() == 0


def test_sync_of_everything_leaves_objects_outside_the_sources_alone(
    source_bucket_factory: Callable[[str], str], bucket_factory: Callable[[str], str]
) -> None:
    inside = source_bucket_factory("inside")
    outside = bucket_factory("outside")
    for bucket in (inside, outside):
        s3.put_object(bucket, "data/a.bam", b"aaaa")
    # Rows catalogued before the policy existed: one in a source, one in a bucket that is not.
    StoredObject.objects.create(bucket=inside, key="data/a.bam", size=1)
    StoredObject.objects.create(bucket=outside, key="data/a.bam", size=1)
    call_command("sync_storage", stdout=io.StringIO())
    assert StoredObject.objects.get(bucket=inside).size == 4
    assert StoredObject.objects.get(bucket=outside).size == 1  # neither listed nor refreshed


def test_a_sync_skips_names_with_control_characters_logs_and_counts_them(
    source_bucket_factory: Callable[[str], str], caplog: pytest.LogCaptureFixture
) -> None:
    bucket = source_bucket_factory("odd")
    for key in ("data/ok.bam", "data/bad\nname.bam", "data/zero\u200bwidth.bam"):
        s3.put_object(bucket, key, b"x")
    with caplog.at_level("WARNING", logger="catalog_app.importers.storage"):
        result = catalog_sync_storage(uri=f"s3://{bucket}/data/")
    assert (result.created, result.extra["unsafeNamesSkipped"]) == (1, 2)
    assert list(StoredObject.objects.values_list("key", flat=True)) == ["data/ok.bam"]
    assert sum("not catalogued" in r.getMessage() for r in caplog.records) == 2
