"""Platform events from the events queue: recognise, record once, apply.

A message body is an EventBridge event (`id`, `detail-type`, `source`, `detail`), possibly inside
an SNS envelope, or an S3 event notification (`Records[]`). `event_process` records it as a
`ReceivedEvent` (unique event id) and applies it in one transaction:

- PROCESSED: applied (the outcome says what happened);
- IGNORED: a detail-type we do not act on;
- MALFORMED: not JSON, fields missing or invalid, or rejected by the catalog importers (the
  error says why); never retried;
- a duplicate event id: nothing happens (the first delivery was applied);
- any other exception: the transaction rolls back, nothing is recorded, and the caller must
  leave the message on the queue to be delivered again.

Every catalog write is bound by the allowed catalogue sources (`catalog_app.sources.policy`): a
fastq list or workflow run outside them is MALFORMED (the error names the URI), and an S3
notification for an object outside them changes nothing (outcome `notASource`).

Formats are documented with full examples in docs/automation.md.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote_plus

from data_sharing_formats.identifiers import INSTRUMENT_RUN_ID_RE
from django.db import IntegrityError, transaction

from automation_app.events.models import EventStatus, ReceivedEvent
from automation_app.models import Trigger
from automation_app.shares import auto_share_evaluate_run
from catalog_app.importers.fastq_list import (
    FASTQ_LIST_COLUMNS,
    FastqRecord,
    catalog_import_fastq_list,
    fastq_list_base,
    fastq_record,
)
from catalog_app.importers.storage import catalog_object_refresh
from catalog_app.importers.workflows import (
    WorkflowRecord,
    catalog_import_workflows,
    workflow_record,
)
from catalog_app.models import SequencingRun, WorkflowRun
from datasharing import s3
from datasharing.csvfile import RecordValues
from datasharing.errors import DomainError

logger = logging.getLogger(__name__)

MAX_BODY_CHARS = 100_000
MAX_EVENT_ID_CHARS = 255
DUPLICATE = "DUPLICATE"

READ_SETS_ADDED = "ReadSetsAdded"
FASTQ_LIST_ROWS_ADDED = "FastqListRowsAdded"
WORKFLOW_RUN_STATE_CHANGE = "WorkflowRunStateChange"
S3_NOTIFICATION = "S3EventNotification"
# S3 events delivered through EventBridge (source aws.s3).
S3_EVENTBRIDGE_TYPES = ("Object Created", "Object Deleted", "Object Restore Completed")
S3_EVENT_PREFIXES = ("ObjectCreated", "ObjectRemoved", "ObjectRestore")

# fastq list row keys: the fastq_list.csv column, or its camelCase form.
FASTQ_ROW_KEYS = {
    "RGID": "rgid",
    "RGSM": "rgsm",
    "RGLB": "rglb",
    "Lane": "lane",
    "Read1File": "read1File",
    "Read2File": "read2File",
}
# workflow mart column -> event detail field.
WORKFLOW_FIELDS = {
    "portal_run_id": "portalRunId",
    "library_id": "libraries",
    "workflow_name": "workflowName",
    "workflow_version": "workflowVersion",
    "workflow_status": "status",
    "workflow_start": "startTime",
    "workflow_end": "endTime",
    "workflow_duration": "durationSeconds",
    "workflow_comment": "comment",
    "output_uri": "outputUri",
}


@dataclass
class EventResult:
    event_id: str
    status: str
    detail_type: str = ""
    error: str = ""
    outcome: dict[str, Any] = field(default_factory=dict)


@dataclass
class Envelope:
    """What a message body says it is; `problem` set when it cannot be read."""

    event_id: str
    detail_type: str = ""
    source: str = ""
    detail: dict[str, Any] = field(default_factory=dict)
    records: list[Any] = field(default_factory=list)
    problem: str = ""


def _envelope(body: str, message_id: str) -> Envelope:
    fallback_id = f"sqs:{message_id}"
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError):
        return Envelope(event_id=fallback_id, problem="The message body is not JSON.")
    if isinstance(payload, dict) and payload.get("Type") == "Notification" and "Message" in payload:
        # SNS envelope (topic -> queue without raw message delivery).
        inner = payload.get("Message")
        try:
            payload = json.loads(inner) if isinstance(inner, str) else None
        except (ValueError, RecursionError):
            payload = None
        if payload is None:
            return Envelope(
                event_id=fallback_id, problem="The SNS envelope's Message is not a JSON string."
            )
    if not isinstance(payload, dict):
        return Envelope(event_id=fallback_id, problem="The message body is not a JSON object.")
    if "Records" in payload:
        records = payload["Records"]
        if not isinstance(records, list) or not records:
            return Envelope(
                event_id=fallback_id,
                detail_type=S3_NOTIFICATION,
                problem="Records must be a non-empty list.",
            )
        # S3 notifications carry no event id; the SQS message id is stable across redeliveries.
        return Envelope(event_id=fallback_id, detail_type=S3_NOTIFICATION, records=records)
    event_id = payload.get("id")
    detail_type = payload.get("detail-type")
    source = payload.get("source")
    envelope = Envelope(
        event_id=event_id
        if isinstance(event_id, str) and event_id and len(event_id) <= MAX_EVENT_ID_CHARS
        else fallback_id,
        detail_type=detail_type[:255] if isinstance(detail_type, str) else "",
        source=source[:255] if isinstance(source, str) else "",
    )
    if not isinstance(detail_type, str) or not detail_type:
        if payload.get("Event") == "s3:TestEvent":
            envelope.detail_type = "s3:TestEvent"
            return envelope
        envelope.problem = "detail-type is missing: not an EventBridge event."
        return envelope
    detail = payload.get("detail")
    if not isinstance(detail, dict):
        envelope.problem = "detail is missing or not an object."
        return envelope
    envelope.detail = detail
    return envelope


def event_process(*, message_id: str, body: str) -> EventResult:
    """Record and apply one message (see the module docstring). Raises on unexpected failures,
    having changed nothing."""
    envelope = _envelope(body, message_id)
    result = EventResult(event_id=envelope.event_id, status="", detail_type=envelope.detail_type)
    with transaction.atomic():
        try:
            with transaction.atomic():
                event = ReceivedEvent.objects.create(
                    event_id=envelope.event_id,
                    message_id=message_id[:255],
                    detail_type=envelope.detail_type,
                    source=envelope.source,
                    body=body[:MAX_BODY_CHARS],
                    status=EventStatus.PROCESSED,
                )
        except IntegrityError:
            result.status = DUPLICATE
            return result
        handler = HANDLERS.get(envelope.detail_type)
        if envelope.problem:
            result.status, result.error = EventStatus.MALFORMED, envelope.problem
        elif handler is None:
            result.status = EventStatus.IGNORED
            result.error = f"detail-type {envelope.detail_type!r} is not one we act on."
        else:
            try:
                # A savepoint: a rejected event leaves no partial catalog writes behind.
                with transaction.atomic():
                    result.outcome = handler(envelope)
                result.status = EventStatus.PROCESSED
            except DomainError as exc:
                result.status, result.error = EventStatus.MALFORMED, exc.message
            except s3.S3_ERRORS as exc:
                if s3.is_transient(exc):
                    raise
                result.status = EventStatus.MALFORMED
                result.error = f"Storage refused a request: {s3.error_code(exc) or exc}"
        event.status = result.status
        event.error = result.error[:10_000]
        event.outcome = result.outcome
        event.save(update_fields=["status", "error", "outcome"])
    return result


# --- Field helpers -------------------------------------------------------------------------------


def _required_str(detail: dict[str, Any], name: str) -> str:
    value = detail.get(name)
    if not isinstance(value, str) or not value.strip():
        raise DomainError(f"detail.{name} is required (a string).")
    return value.strip()


def _optional_str(detail: dict[str, Any], name: str) -> str:
    value = detail.get(name)
    if value is None:
        return ""
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        raise DomainError(f"detail.{name} must be a string.")
    return str(value).strip()


def _instrument_run_id(detail: dict[str, Any]) -> str:
    run_id = _required_str(detail, "instrumentRunId")
    if not INSTRUMENT_RUN_ID_RE.match(run_id):
        raise DomainError(f"detail.instrumentRunId {run_id[:80]!r} is not a valid run id.")
    return run_id


def _evaluate(run_id: str) -> dict[str, Any]:
    run = SequencingRun.objects.filter(instrument_run_id=run_id).first()
    if run is None:
        return {"instrumentRunId": run_id, "rules": [], "note": "run not in the catalog"}
    return auto_share_evaluate_run(run=run, trigger=Trigger.EVENT).as_dict()


@dataclass
class EventValues(RecordValues):
    """One record's values taken from an event: a bad value is named by its path in the event
    (`detail.rows[1].lane`), not by a file line and column."""

    paths: dict[str, str] = field(default_factory=dict)  # column -> path below `detail`
    record_path: str = ""  # the record's own path, for problems not of one field

    def error(self, column: str | None, message: str) -> DomainError:
        path = self.paths.get(column or "", column or "") or self.record_path
        return DomainError(f"detail.{path}: {message}" if path else f"detail: {message}")


# --- Handlers ------------------------------------------------------------------------------------


def _read_sets_added(envelope: Envelope) -> dict[str, Any]:
    return _evaluate(_instrument_run_id(envelope.detail))


def _fastq_row_values(index: int, row: Any) -> EventValues:
    """A `detail.rows[index]` entry as fastq list values (column names or their camelCase)."""
    if not isinstance(row, dict):
        raise DomainError(f"detail.rows[{index}] must be an object.")
    values: dict[str, str] = {}
    for key, value in row.items():
        column = next((c for c, alias in FASTQ_ROW_KEYS.items() if key in (c, alias)), None)
        if column is None:
            raise DomainError(
                f"detail.rows[{index}]: unknown field {str(key)[:60]!r}; known fields: "
                f"{', '.join(FASTQ_ROW_KEYS.values())}."
            )
        if value is not None and (not isinstance(value, str | int) or isinstance(value, bool)):
            raise DomainError(f"detail.rows[{index}].{FASTQ_ROW_KEYS[column]} must be a string.")
        values[column] = "" if value is None else str(value)
    return EventValues(
        values=values,
        paths={column: f"rows[{index}].{FASTQ_ROW_KEYS[column]}" for column in FASTQ_LIST_COLUMNS},
        record_path=f"rows[{index}]",
    )


def _base_uri(detail: dict[str, Any], rows: list[EventValues]) -> str:
    base = _optional_str(detail, "baseUri")
    if base:
        return base
    files = [f for row in rows for f in (row.get("Read1File"), row.get("Read2File")) if f]
    if not files or not all(f.startswith("s3://") for f in files):
        raise DomainError(
            "detail.baseUri is required when rows give file paths relative to it "
            "(or give every read1File / read2File as an s3:// URI)."
        )
    common = os.path.commonprefix(files)  # noqa: RUF071 - S3 URIs are plain strings
    base = common[: common.rfind("/") + 1]
    if len(base) <= len("s3://") or "/" not in base[len("s3://") :]:
        raise DomainError("detail.baseUri is required: the files are in more than one bucket.")
    return base


def _fastq_list_rows_added(envelope: Envelope) -> dict[str, Any]:
    detail = envelope.detail
    run_id = _instrument_run_id(detail)
    raw_rows = detail.get("rows")
    if not isinstance(raw_rows, list) or not raw_rows:
        raise DomainError("detail.rows is required: a non-empty list of fastq list rows.")
    rows = [_fastq_row_values(index, row) for index, row in enumerate(raw_rows)]
    base_uri = _base_uri(detail, rows)
    base = fastq_list_base(base_uri)
    records: list[FastqRecord] = [fastq_record(row, base=base) for row in rows]
    # Rows added: the event adds and updates the run's FASTQs; only a fastq list file import
    # (API or command) replaces the run's list.
    imported = catalog_import_fastq_list(
        records=records, instrument_run_id=run_id, base_uri=base_uri, authoritative=False
    )
    return {"catalog": imported.as_dict(), **_evaluate(run_id)}


def _library_ids(detail: dict[str, Any]) -> list[str]:
    libraries = detail.get("libraries")
    if not isinstance(libraries, list) or not libraries:
        raise DomainError("detail.libraries is required: a non-empty list of library ids.")
    ids: list[str] = []
    for index, entry in enumerate(libraries):
        value = entry.get("libraryId") if isinstance(entry, dict) else entry
        if not isinstance(value, str) or not value.strip():
            raise DomainError(
                f"detail.libraries[{index}] must be a library id or an object with libraryId."
            )
        ids.append(value.strip())
    return ids


def _workflow_run_state_change(envelope: Envelope) -> dict[str, Any]:
    """Upsert the workflow run. Fields the event leaves out keep their catalogued values (a state
    change to SUCCEEDED need not repeat the start time)."""
    detail = envelope.detail
    values = _workflow_values(detail)
    records: list[WorkflowRecord] = [
        workflow_record(
            EventValues(
                values={**values, "library_id": library_id},
                paths={**WORKFLOW_FIELDS, "library_id": f"libraries[{index}]"},
            )
        )
        for index, library_id in enumerate(_library_ids(detail))
    ]
    imported = catalog_import_workflows(records=records, create_unknown_libraries=True)
    return {"portalRunId": values["portal_run_id"], "catalog": imported.as_dict()}


def _workflow_values(detail: dict[str, Any]) -> dict[str, str]:
    """The run's values by workflow mart column: the event's, else the catalogued ones."""
    portal_run_id = _required_str(detail, "portalRunId")
    current = WorkflowRun.objects.filter(portal_run_id=portal_run_id).first()
    known: dict[str, str] = {}
    if current is not None:
        known = {
            "workflow_name": current.workflow_name,
            "workflow_version": current.workflow_version,
            "workflow_start": current.start_time.isoformat() if current.start_time else "",
            "workflow_end": current.end_time.isoformat() if current.end_time else "",
            "workflow_duration": ""
            if current.duration_seconds is None
            else str(current.duration_seconds),
            "workflow_comment": current.comment,
            "output_uri": current.output_uri,
        }
    values = {
        "portal_run_id": portal_run_id,
        "workflow_name": _optional_str(detail, "workflowName") or known.get("workflow_name", ""),
        "workflow_status": _required_str(detail, "status"),
    }
    for column in (
        "workflow_version",
        "workflow_start",
        "workflow_end",
        "workflow_duration",
        "workflow_comment",
        "output_uri",
    ):
        values[column] = _optional_str(detail, WORKFLOW_FIELDS[column]) or known.get(column, "")
    if not values["workflow_name"]:
        raise DomainError("detail.workflowName is required for a workflow run not yet catalogued.")
    return values


def _s3_object(record: Any, index: int) -> tuple[str, str, str]:
    """(event name, bucket, key) of an S3 notification record."""
    try:
        event_name = record["eventName"]
        bucket = record["s3"]["bucket"]["name"]
        key = unquote_plus(record["s3"]["object"]["key"])
    except (KeyError, TypeError):
        raise DomainError(
            f"Records[{index}] is not an S3 event record (eventName, s3.bucket.name, "
            "s3.object.key)."
        ) from None
    if not all(isinstance(v, str) and v for v in (event_name, bucket, key)):
        raise DomainError(f"Records[{index}]: eventName, bucket and key must be strings.")
    return event_name, bucket, key


def _s3_notification(envelope: Envelope) -> dict[str, Any]:
    objects = [_s3_object(record, index) for index, record in enumerate(envelope.records)]
    outcomes = []
    for event_name, bucket, key in objects:
        catalog = (
            catalog_object_refresh(bucket=bucket, key=key)
            if event_name.startswith(S3_EVENT_PREFIXES)
            else "ignored"
        )
        outcomes.append(
            {"eventName": event_name, "uri": f"s3://{bucket}/{key}", "catalog": catalog}
        )
    return {"objects": outcomes}


def _s3_eventbridge(envelope: Envelope) -> dict[str, Any]:
    detail = envelope.detail
    try:
        bucket = detail["bucket"]["name"]
        key = detail["object"]["key"]
    except (KeyError, TypeError):
        raise DomainError("detail.bucket.name and detail.object.key are required.") from None
    if not (isinstance(bucket, str) and bucket and isinstance(key, str) and key):
        raise DomainError("detail.bucket.name and detail.object.key must be strings.")
    catalog = catalog_object_refresh(bucket=bucket, key=key)
    return {"objects": [{"uri": f"s3://{bucket}/{key}", "catalog": catalog}]}


HANDLERS: dict[str, Callable[[Envelope], dict[str, Any]]] = {
    READ_SETS_ADDED: _read_sets_added,
    FASTQ_LIST_ROWS_ADDED: _fastq_list_rows_added,
    WORKFLOW_RUN_STATE_CHANGE: _workflow_run_state_change,
    S3_NOTIFICATION: _s3_notification,
    **dict.fromkeys(S3_EVENTBRIDGE_TYPES, _s3_eventbridge),
}
