"""Applying platform events: each recorded once, malformed ones recorded with the reason,
unknown ones ignored, and the catalog updated by the importers' rules."""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from automation_app.events.models import EventStatus, ReceivedEvent
from automation_app.events.services import DUPLICATE, event_process
from automation_app.models import AutoShare, AutoShareRule
from catalog_app.models import Fastq, Library, StoredObject, WorkflowRun
from datasharing import s3
from tests.automation_app.conftest import RUN_2, eventbridge

NEW_RUN = "250301_A01052_0300_BHXXNEWRUN"


def process(body: Any, message_id: str = "m-1") -> Any:
    return event_process(
        message_id=message_id, body=body if isinstance(body, str) else json.dumps(body)
    )


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ("{not json", "not JSON"),
        ("[1, 2]", "not a JSON object"),
        ({"id": "e1", "source": "x", "detail": {}}, "detail-type is missing"),
        ({"id": "e1", "detail-type": "ReadSetsAdded"}, "detail is missing"),
        (eventbridge("ReadSetsAdded", {}), "detail.instrumentRunId is required"),
        (eventbridge("ReadSetsAdded", {"instrumentRunId": "../x"}), "not a valid run id"),
        (eventbridge("FastqListRowsAdded", {"instrumentRunId": NEW_RUN}), "detail.rows"),
        (
            eventbridge("WorkflowRunStateChange", {"portalRunId": "20250101abcdef01"}),
            "detail.status is required",
        ),
        ({"Type": "Notification", "Message": "{oops"}, "SNS envelope"),
        ({"Records": []}, "Records must be a non-empty list"),
    ],
)
def test_malformed_messages_are_recorded_with_the_reason(db: Any, body: Any, error: str) -> None:
    result = process(body)
    assert result.status == EventStatus.MALFORMED
    assert error in result.error
    event = ReceivedEvent.objects.get()
    assert event.status == EventStatus.MALFORMED
    assert error in event.error


def test_unknown_detail_types_are_ignored_and_duplicates_recognised(db: Any) -> None:
    body = eventbridge("SomethingElse", {"x": 1}, event_id="evt-1")
    assert process(body, "m-1").status == EventStatus.IGNORED
    assert process(body, "m-2").status == DUPLICATE
    event = ReceivedEvent.objects.get()
    assert (event.event_id, event.detail_type, event.message_id) == (
        "evt-1",
        "SomethingElse",
        "m-1",
    )


def test_read_sets_added_evaluates_the_run(
    demo_catalog: Path, make_rule: Callable[..., AutoShareRule]
) -> None:
    make_rule(jobName="cup")
    result = process(eventbridge("ReadSetsAdded", {"instrumentRunId": RUN_2}))
    assert result.status == EventStatus.PROCESSED
    share = AutoShare.objects.get()
    assert result.outcome["rules"] == [{"jobName": "cup", "outcome": f"created {share.id}"}]
    unknown = process(eventbridge("ReadSetsAdded", {"instrumentRunId": "NEVER_SEEN"}), "m-2")
    assert unknown.status == EventStatus.PROCESSED
    assert unknown.outcome["note"] == "run not in the catalog"


def upload_fastqs(bucket: str, library_id: str = "L2400104") -> list[dict[str, Any]]:
    rows = []
    for lane in (1, 2):
        for read in (1, 2):
            key = f"primary/{NEW_RUN}/{library_id}_S1_L00{lane}_R{read}_001.fastq.gz"
            s3.put_object(bucket, key, gzip.compress(f"@{lane}{read}\nACGT\n+\nIIII\n".encode()))
        rows.append(
            {
                "rgid": f"ACGT.{lane}",
                "rgsm": library_id,
                "rglb": "UnknownLibrary",
                "lane": lane,
                "read1File": f"{library_id}_S1_L00{lane}_R1_001.fastq.gz",
                "read2File": f"{library_id}_S1_L00{lane}_R2_001.fastq.gz",
            }
        )
    return rows


def test_fastq_list_rows_added_updates_the_catalog_and_starts_shares(
    demo_catalog: Path,
    make_rule: Callable[..., AutoShareRule],
    source_bucket_factory: Callable[[str], str],
) -> None:
    bucket = source_bucket_factory("primary")
    make_rule(jobName="cup")
    rows = upload_fastqs(bucket)
    detail = {
        "instrumentRunId": NEW_RUN,
        "baseUri": f"s3://{bucket}/primary/{NEW_RUN}/",
        "rows": rows,
    }
    result = process(eventbridge("FastqListRowsAdded", detail))
    assert result.status == EventStatus.PROCESSED, result.error
    assert result.outcome["catalog"]["created"] == 2
    fastqs = Fastq.objects.filter(run__instrument_run_id=NEW_RUN)
    assert sorted(f.lane for f in fastqs) == [1, 2]
    assert all(f.read1.size and f.read2 and f.read2.size for f in fastqs)
    share = AutoShare.objects.get()
    assert share.run.instrument_run_id == NEW_RUN

    # Full s3:// URIs need no baseUri; a bad lane names the row and field.
    absolute = [
        {**row, "read1File": f"s3://{bucket}/primary/{NEW_RUN}/{row['read1File']}", "read2File": ""}
        for row in rows
    ]
    again = process(
        eventbridge("FastqListRowsAdded", {"instrumentRunId": NEW_RUN, "rows": absolute}), "m-2"
    )
    assert again.status == EventStatus.PROCESSED, again.error
    bad_rows = [rows[0], {**rows[1], "lane": "two"}]
    bad = process(eventbridge("FastqListRowsAdded", {**detail, "rows": bad_rows}), "m-3")
    assert bad.status == EventStatus.MALFORMED
    assert bad.error.startswith("detail.rows[1].lane:")
    assert AutoShare.objects.count() == 1


def test_workflow_run_state_changes_update_the_catalog(demo_catalog: Path) -> None:
    detail = {
        "portalRunId": "20250301abcdef01",
        "workflowName": "umccrise",
        "workflowVersion": "2.3.1",
        "status": "RUNNING",
        "startTime": "2025-03-01T10:00:00Z",
        "outputUri": "s3://demo-facility-analysis/analysis/umccrise/20250301abcdef01",
        "libraries": ["L2400104", {"libraryId": "L2400105"}],
    }
    assert process(eventbridge("WorkflowRunStateChange", detail)).status == EventStatus.PROCESSED
    finished = {
        "portalRunId": "20250301abcdef01",
        "status": "SUCCEEDED",
        "endTime": "2025-03-01T12:00:00Z",
        "libraries": ["L2400104"],
    }
    result = process(eventbridge("WorkflowRunStateChange", finished), "m-2")
    assert result.status == EventStatus.PROCESSED, result.error
    run = WorkflowRun.objects.get(portal_run_id="20250301abcdef01")
    assert run.status == "SUCCEEDED"
    assert run.workflow_name == "umccrise"
    assert run.start_time is not None and run.end_time is not None
    assert run.output_uri.endswith("/umccrise/20250301abcdef01/")
    assert sorted(run.libraries.values_list("library_id", flat=True)) == ["L2400104", "L2400105"]

    # An event may come before the LIMS import: the library is created (metadata follows).
    early = process(
        eventbridge("WorkflowRunStateChange", {**finished, "libraries": ["L9999999"]}), "m-3"
    )
    assert early.status == EventStatus.PROCESSED, early.error
    assert early.outcome["catalog"]["librariesCreated"] == 1
    assert "L9999999" in run.libraries.values_list("library_id", flat=True)
    assert Library.objects.get(library_id="L9999999").subject is None


def s3_record(event_name: str, bucket: str, key: str) -> dict[str, Any]:
    return {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "eventName": event_name,
        "s3": {"bucket": {"name": bucket}, "object": {"key": key.replace(" ", "+")}},
    }


def test_s3_notifications_update_stored_objects(
    db: Any, source_bucket_factory: Callable[[str], str]
) -> None:
    bucket = source_bucket_factory("data")
    s3.put_object(bucket, "runs/a file.txt", b"hello")
    created = process({"Records": [s3_record("ObjectCreated:Put", bucket, "runs/a file.txt")]})
    assert created.status == EventStatus.PROCESSED, created.error
    obj = StoredObject.objects.get(bucket=bucket, key="runs/a file.txt")
    assert (obj.size, obj.missing) == (5, False)

    s3.delete_prefix(bucket, "runs/")
    # Through SNS this time.
    envelope = {
        "Type": "Notification",
        "MessageId": "sns-1",
        "Message": json.dumps(
            {"Records": [s3_record("ObjectRemoved:Delete", bucket, "runs/a file.txt")]}
        ),
    }
    removed = process(envelope, "m-2")
    assert removed.status == EventStatus.PROCESSED
    assert removed.outcome["objects"][0]["catalog"] == "missing"
    obj.refresh_from_db()
    assert obj.missing is True


def test_event_rows_become_records_without_a_csv_round_trip(
    demo_catalog: Path, source_bucket_factory: Callable[[str], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The events build the importers' records from their JSON: no file is written or read."""
    from catalog_app.importers import fastq_list, workflows

    def no_csv(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("an event went through a CSV reader")

    monkeypatch.setattr(fastq_list, "read_csv", no_csv)
    monkeypatch.setattr(workflows, "read_csv", no_csv)
    bucket = source_bucket_factory("primary")
    detail = {
        "instrumentRunId": NEW_RUN,
        "baseUri": f"s3://{bucket}/primary/{NEW_RUN}/",
        "rows": upload_fastqs(bucket),
    }
    fastqs = process(eventbridge("FastqListRowsAdded", detail))
    assert fastqs.status == EventStatus.PROCESSED, fastqs.error
    assert fastqs.outcome["catalog"]["created"] == 2
    workflow = {
        "portalRunId": "20250301abcdef01",
        "workflowName": "umccrise",
        "status": "RUNNING",
        "comment": 'tumor, "normal"',  # what a CSV would have had to quote
        "libraries": ["L2400104"],
    }
    runs = process(eventbridge("WorkflowRunStateChange", workflow), "m-2")
    assert runs.status == EventStatus.PROCESSED, runs.error
    assert WorkflowRun.objects.get(portal_run_id="20250301abcdef01").comment == 'tumor, "normal"'


@pytest.mark.parametrize(
    ("detail_type", "detail", "error"),
    [
        (
            "WorkflowRunStateChange",
            {
                "portalRunId": "20250301abcdef01",
                "workflowName": "umccrise",
                "status": "RUNNING",
                "libraries": ["L2400104", "../L2400105"],
            },
            "detail.libraries[1]: '../L2400105' is not a valid identifier",
        ),
        (
            "WorkflowRunStateChange",
            {
                "portalRunId": "20250301abcdef01",
                "workflowName": "umccrise",
                "status": "RUNNING",
                "startTime": "yesterday",
                "libraries": ["L2400104"],
            },
            "detail.startTime: 'yesterday' is not a valid date-time",
        ),
        (
            "WorkflowRunStateChange",
            {
                "portalRunId": "2025-03-01",
                "workflowName": "umccrise",
                "status": "RUNNING",
                "libraries": ["L2400104"],
            },
            "detail.portalRunId: '2025-03-01' is not a portal run id",
        ),
        (
            "WorkflowRunStateChange",
            {
                "portalRunId": "20250301abcdef01",
                "workflowName": "umccrise",
                "status": "RUNNING",
                "comment": "two\nlines",
                "libraries": ["L2400104"],
            },
            "detail.comment: value is too long or contains control characters",
        ),
        (
            "FastqListRowsAdded",
            {
                "instrumentRunId": NEW_RUN,
                "baseUri": "s3://bucket-a/primary/",
                "rows": [
                    {"rgid": "A.1", "rgsm": "L2400104", "lane": 1, "read1File": "a_R1.fastq.gz"},
                    {"rgid": "A.2", "rgsm": "L2400104", "lane": 2, "read1File": "../b.fastq.gz"},
                ],
            },
            "detail.rows[1].read1File: '../b.fastq.gz' is not a relative path below the base URI",
        ),
        (
            "FastqListRowsAdded",
            {
                "instrumentRunId": NEW_RUN,
                "baseUri": "s3://bucket-a/primary/",
                "rows": [{"rgid": "A.1", "lane": 1, "read1File": "a_R1.fastq.gz"}],
            },
            "detail.rows[0].rgsm: value is required",
        ),
    ],
)
def test_a_bad_event_field_is_named_by_its_path_in_the_event(
    db: Any, detail_type: str, detail: dict[str, Any], error: str
) -> None:
    result = process(eventbridge(detail_type, detail))
    assert result.status == EventStatus.MALFORMED
    assert result.error.startswith(error), result.error
    assert WorkflowRun.objects.count() == 0 and Fastq.objects.count() == 0
