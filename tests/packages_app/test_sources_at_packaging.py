"""Packaging takes nothing from outside the allowed catalogue sources, and nothing whose name
would break the package's line-based files, even when the catalog holds it (rows catalogued
before the policy existed); a dry run changes nothing."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from django.conf import settings
from django.test import override_settings
from django.utils import timezone
from rest_framework.test import APIClient

from catalog_app.importers.storage import catalog_sync_storage
from catalog_app.importers.workflows import catalog_import_workflows, workflow_records_from_csv
from catalog_app.models import Library, StoredObject, WorkflowRun
from catalog_app.sources.models import AllowedSource
from datasharing import s3
from datasharing.errors import DomainError
from packages_app.models import Package, PackageStatus
from tests.packages_app.facility import Facility, build_facility

pytestmark = pytest.mark.django_db

THIEF_RUN = "20240111deadbeef"


@pytest.fixture
def facility(source_bucket_factory: Callable[[str], str]) -> Facility:
    return build_facility(bucket=source_bucket_factory("policy"), pairs=1)


def secondary(facility: Facility, **fields: Any) -> dict[str, Any]:
    return {
        "libraryIdList": [facility.pairs[0].tumor],
        "dataTypeList": ["secondaryAnalysis"],
        "useWorkflowFilters": False,
        **fields,
    }


def test_a_workflow_run_pointing_into_another_package_folder_cannot_share_its_artifacts(
    facility: Facility, build_now: Callable[..., Package]
) -> None:
    """Issue 16: a workflow row whose output_uri pointed into another curator's package folder
    in the artifact bucket produced a package holding that package's live download script."""
    victim = build_now(name="victim", libraryIdList=[facility.pairs[0].tumor])
    assert victim.status == PackageStatus.SUCCEEDED, victim.error_message
    folder = f"s3://{settings.ARTIFACT_BUCKET}/{s3.artifact_key(victim.id)}/"
    assert list(s3.list_objects(settings.ARTIFACT_BUCKET, s3.artifact_key(victim.id) + "/"))

    # The importer refuses the row ...
    header = "portal_run_id,library_id,workflow_name,workflow_version,workflow_status,"
    header += "workflow_start,workflow_end,workflow_duration,workflow_comment,"
    header += "partition_schema_name,partition_name,output_uri"
    row = f"{THIEF_RUN},{facility.pairs[0].tumor},tumor-normal,1,SUCCEEDED,"
    row += f"2024-01-11T01:00:00Z,2024-01-11T02:00:00Z,3600,,w,m,{folder}"
    with pytest.raises(DomainError, match="artifact bucket is never a source"):
        catalog_import_workflows(records=workflow_records_from_csv(f"{header}\n{row}\n"))

    # ... and packaging refuses one catalogued before the policy existed, listing nothing.
    thief_run = WorkflowRun.objects.create(
        portal_run_id=THIEF_RUN,
        workflow_name="tumor-normal",
        status="SUCCEEDED",
        start_time=timezone.now(),
        output_uri=folder,
    )
    thief_run.libraries.add(Library.objects.get(library_id=facility.pairs[0].tumor))
    for fields in ({"portalRunIdList": [THIEF_RUN]}, {}):
        thief = build_now(name="thief", **secondary(facility, **fields))
        assert thief.status == PackageStatus.FAILED
        assert folder in thief.error_message and THIEF_RUN in thief.error_message
        assert thief.files.count() == 0
    assert not StoredObject.objects.filter(bucket=settings.ARTIFACT_BUCKET).exists()


def test_catalogued_files_outside_the_sources_are_refused_by_name(
    facility: Facility, build_now: Callable[..., Package], viewer_client: APIClient
) -> None:
    """Rows catalogued while a bucket was a source do not leave once it is not."""
    AllowedSource.objects.all().delete()
    package = build_now(name="fastqs", libraryIdList=[facility.pairs[0].tumor])
    assert package.status == PackageStatus.FAILED
    name = facility.fastq_name(facility.pairs[0].tumor, 1, 1)
    assert f"s3://{facility.bucket}/primary/{facility.run_id}/" in package.error_message
    assert name in package.error_message
    assert "not in an allowed catalogue source" in package.error_message.lower()
    answer = viewer_client.post(
        "/api/v1/package:dryRun",
        {
            "packageName": "look",
            "packageRequest": {
                "libraryIdList": [facility.pairs[0].tumor],
                "dataTypeList": ["fastq"],
            },
        },
        format="json",
    )
    assert answer.status_code == 400
    assert name in str(answer.json()["details"]["notAllowedSources"])


def test_names_with_control_characters_are_not_catalogued_and_checksums_stay_one_line_per_file(
    facility: Facility, build_now: Callable[..., Package]
) -> None:
    prefix = facility.output_prefix(facility.pairs[0])
    for odd in ("evil\nd41d8cd98f00b204e9800998ecf8427e  injected.txt", "tab\there.txt"):
        s3.put_object(facility.bucket, prefix + odd, b"odd")
    package = build_now(name="odd-names", **secondary(facility))
    assert package.status == PackageStatus.SUCCEEDED, package.error_message
    assert not StoredObject.objects.filter(key__contains="\n").exists()
    assert not StoredObject.objects.filter(key__contains="\t").exists()
    checksums = s3.get_object_bytes(settings.ARTIFACT_BUCKET, package.checksums_key).decode()
    lines = checksums.splitlines()
    assert len(lines) == package.file_count == package.files.count()
    assert all(re.fullmatch(r"[0-9a-f]{32}  \S.*", line) for line in lines), lines


def test_names_with_control_characters_catalogued_before_the_check_are_refused(
    facility: Facility, build_now: Callable[..., Package]
) -> None:
    prefix = facility.output_prefix(facility.pairs[0])
    StoredObject.objects.create(
        bucket=facility.bucket, key=prefix + "a\u2028b.txt", size=3, last_seen=timezone.now()
    )
    with override_settings(PACKAGE_REFRESH_OUTPUT_LISTINGS=False):
        package = build_now(name="odd-names", **secondary(facility))
    assert package.status == PackageStatus.FAILED
    assert "control or formatting character" in package.error_message
    assert "a\\u2028b.txt" in package.error_message


def test_a_dry_run_lists_no_storage_and_writes_nothing_to_the_catalog(
    facility: Facility, viewer_client: APIClient
) -> None:
    """Issue 16: a viewer's dry run listed S3 and wrote to the catalog."""
    prefix = facility.output_prefix(facility.pairs[0])
    catalog_sync_storage(uri=f"s3://{facility.bucket}/{prefix}")
    catalogued = StoredObject.objects.filter(bucket=facility.bucket)
    before = sorted(catalogued.values_list("key", "last_seen", "size"))

    def dry_run() -> dict[str, Any]:
        answer = viewer_client.post(
            "/api/v1/package:dryRun",
            {"packageName": "look", "packageRequest": secondary(facility)},
            format="json",
        )
        assert answer.status_code == 200, answer.json()
        return answer.json()

    first = dry_run()
    s3.put_object(facility.bucket, prefix + "written-since.txt", b"new")
    s3.put_object(facility.bucket, prefix + "L9000000/L9000000.bam", b"changed size")
    second = dry_run()
    assert first["outputListingsRefreshed"] is second["outputListingsRefreshed"] is False
    assert (second["fileCount"], second["totalBytes"]) == (first["fileCount"], first["totalBytes"])
    assert sorted(catalogued.values_list("key", "last_seen", "size")) == before
    assert Package.objects.count() == 0
