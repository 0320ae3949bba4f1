"""Platform events are bound by the allowed catalogue sources and refuse unsafe names; fastq list
rows added by events add to a run, never replace it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from automation_app.events.models import EventStatus
from catalog_app.models import Fastq, StoredObject, WorkflowRun
from datasharing import s3
from tests.automation_app.conftest import eventbridge
from tests.automation_app.events.test_events import NEW_RUN, process, s3_record, upload_fastqs


def test_an_s3_notification_outside_the_sources_changes_nothing(
    db: Any, bucket_factory: Callable[[str], str], source_bucket_factory: Callable[[str], str]
) -> None:
    outside = bucket_factory("recipient")
    inside = source_bucket_factory("data")
    for bucket in (outside, inside):
        s3.put_object(bucket, "runs/a.bam", b"hello")
    result = process(
        {
            "Records": [
                s3_record("ObjectCreated:Put", outside, "runs/a.bam"),
                s3_record("ObjectCreated:Put", inside, "runs/a.bam"),
            ]
        }
    )
    assert result.status == EventStatus.PROCESSED, result.error
    assert [o["catalog"] for o in result.outcome["objects"]] == ["notASource", "created"]
    assert list(StoredObject.objects.values_list("bucket", flat=True)) == [inside]


def test_an_s3_notification_for_the_artifact_bucket_changes_nothing(db: Any, settings: Any) -> None:
    settings.CATALOG_ALLOWED_SOURCES = [f"s3://{settings.ARTIFACT_BUCKET}/"]
    s3.ensure_bucket(settings.ARTIFACT_BUCKET)
    key = "packages/pkg.X/download-data.x.sh"
    s3.put_object(settings.ARTIFACT_BUCKET, key, b"#!/bin/bash\n")
    result = process(
        {"Records": [s3_record("ObjectCreated:Put", settings.ARTIFACT_BUCKET, key)]},
    )
    assert result.outcome["objects"][0]["catalog"] == "notASource"
    assert StoredObject.objects.count() == 0


def test_an_s3_notification_for_an_unsafe_name_changes_nothing(
    db: Any, source_bucket_factory: Callable[[str], str]
) -> None:
    bucket = source_bucket_factory("data")
    key = "runs/a\tb.bam"
    s3.put_object(bucket, key, b"hello")
    result = process({"Records": [s3_record("ObjectCreated:Put", bucket, key)]})
    assert result.outcome["objects"][0]["catalog"] == "unsafeName"
    assert StoredObject.objects.count() == 0


def test_fastq_list_rows_outside_the_sources_are_malformed_and_write_nothing(
    demo_catalog: Path, bucket_factory: Callable[[str], str]
) -> None:
    bucket = bucket_factory("recipient")
    before = (Fastq.objects.count(), StoredObject.objects.count())
    detail = {
        "instrumentRunId": NEW_RUN,
        "baseUri": f"s3://{bucket}/primary/{NEW_RUN}/",
        "rows": upload_fastqs(bucket),
    }
    result = process(eventbridge("FastqListRowsAdded", detail))
    assert result.status == EventStatus.MALFORMED
    assert f"s3://{bucket}/primary/{NEW_RUN}/" in result.error
    assert (Fastq.objects.count(), StoredObject.objects.count()) == before


def test_fastq_list_rows_with_a_control_character_name_the_row_and_field(
    demo_catalog: Path, source_bucket_factory: Callable[[str], str]
) -> None:
    bucket = source_bucket_factory("primary")
    rows = upload_fastqs(bucket)
    rows[1]["read2File"] = "L2400104_S1_L002\u202e_R2_001.fastq.gz"  # right-to-left override
    detail = {"instrumentRunId": NEW_RUN, "baseUri": f"s3://{bucket}/primary/{NEW_RUN}/"}
    result = process(eventbridge("FastqListRowsAdded", {**detail, "rows": rows}))
    assert result.status == EventStatus.MALFORMED
    assert result.error.startswith("detail.rows[1].read2File:")
    assert "U+202E" in result.error


def test_fastq_list_rows_added_add_to_the_run_and_never_remove(
    demo_catalog: Path, source_bucket_factory: Callable[[str], str]
) -> None:
    bucket = source_bucket_factory("primary")
    rows = upload_fastqs(bucket)
    detail = {"instrumentRunId": NEW_RUN, "baseUri": f"s3://{bucket}/primary/{NEW_RUN}/"}
    first = process(eventbridge("FastqListRowsAdded", {**detail, "rows": rows[:1]}), "m-1")
    second = process(eventbridge("FastqListRowsAdded", {**detail, "rows": rows[1:]}), "m-2")
    assert (first.status, second.status) == (EventStatus.PROCESSED, EventStatus.PROCESSED)
    assert "removed" not in second.outcome["catalog"]
    assert sorted(
        Fastq.objects.filter(run__instrument_run_id=NEW_RUN).values_list("lane", flat=True)
    ) == [1, 2]


def test_a_workflow_run_whose_output_is_in_the_artifact_bucket_is_malformed(
    demo_catalog: Path, settings: Any
) -> None:
    output = f"s3://{settings.ARTIFACT_BUCKET}/packages/pkg.01JAAAAAAAAAAAAAAAAAAAAAAA/"
    detail = {
        "portalRunId": "20250101abcdef01",
        "workflowName": "tumor-normal",
        "status": "SUCCEEDED",
        "outputUri": output,
        "libraries": ["L2400104"],
    }
    result = process(eventbridge("WorkflowRunStateChange", detail))
    assert result.status == EventStatus.MALFORMED
    assert output in result.error
    assert not WorkflowRun.objects.filter(portal_run_id="20250101abcdef01").exists()
