"""Workflow mart export (or workflow run events) -> workflow runs and their libraries."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from data_sharing_formats.columns import WORKFLOW_COLUMNS, WORKFLOW_OPTIONAL_COLUMNS
from data_sharing_formats.identifiers import PORTAL_RUN_ID_RE, WORKFLOW_NAME_RE, base_library_id
from django.conf import settings
from django.db import transaction

from catalog_app.importers.base import (
    BATCH,
    ImportResult,
    at_line,
    identifier,
    libraries_ensure,
    to_datetime,
    upsert,
)
from catalog_app.models import Library, WorkflowRun
from catalog_app.sources.policy import source_policy_load
from datasharing import s3
from datasharing.csvfile import RecordValues, read_csv
from datasharing.errors import DomainError

logger = logging.getLogger(__name__)


def workflow_output_uri(*, workflow_name: str, portal_run_id: str) -> str:
    return settings.WORKFLOW_OUTPUT_URI_TEMPLATE.format(
        bucket=settings.WORKFLOW_OUTPUT_BUCKET,
        workflow_name=workflow_name,
        portal_run_id=portal_run_id,
    )


@dataclass(frozen=True)
class WorkflowRecord:
    """One workflow run as it concerns one of its libraries (by base id). `values` are the
    `WorkflowRun` fields."""

    portal_run_id: str
    library_id: str
    values: dict[str, Any]
    line: int | None = None
    # The output URI came from WORKFLOW_OUTPUT_URI_TEMPLATE (the row gave none).
    output_uri_from_template: bool = False


def workflow_record(row: RecordValues) -> WorkflowRecord:
    """Check one row's values (mart column names) and make its record. Without `output_uri`,
    the run's output is where the workflow output template puts it."""
    portal_run_id = row.required("portal_run_id")
    if not PORTAL_RUN_ID_RE.fullmatch(portal_run_id):
        raise row.error(
            "portal_run_id",
            f"{portal_run_id!r} is not a portal run id (YYYYMMDD + 8 hex characters)",
        )
    workflow_name = identifier(row, "workflow_name", pattern=WORKFLOW_NAME_RE)
    output_uri = row.get("output_uri")
    if output_uri:
        try:
            parsed = s3.parse_s3_uri(output_uri)
        except DomainError as exc:
            raise row.error("output_uri", exc.message) from None
        output_uri = str(parsed) if str(parsed).endswith("/") else f"{parsed}/"
    else:
        output_uri = workflow_output_uri(workflow_name=workflow_name, portal_run_id=portal_run_id)
    duration = row.parsed("workflow_duration", lambda v: int(float(v)), what="number of seconds")
    return WorkflowRecord(
        line=row.line,
        output_uri_from_template=not row.get("output_uri"),
        portal_run_id=portal_run_id,
        library_id=base_library_id(identifier(row, "library_id")),
        values={
            "workflow_name": workflow_name,
            "workflow_version": row.get("workflow_version"),
            "status": row.required("workflow_status").upper(),
            "start_time": row.parsed("workflow_start", to_datetime, what="date-time"),
            "end_time": row.parsed("workflow_end", to_datetime, what="date-time"),
            "duration_seconds": duration,
            "comment": row.get("workflow_comment"),
            "output_uri": output_uri,
        },
    )


def workflow_records_from_csv(text: str, *, name: str = "workflow file") -> list[WorkflowRecord]:
    """Every row of a workflow mart export, checked; the first bad one raises `CsvRowError`
    (line and column)."""
    return [
        workflow_record(row)
        for row in read_csv(
            text, required=WORKFLOW_COLUMNS, optional=WORKFLOW_OPTIONAL_COLUMNS, name=name
        )
    ]


def _run_values(records: Sequence[WorkflowRecord]) -> dict[str, dict[str, Any]]:
    """The values of each run; a run's records must agree on them."""
    run_values: dict[str, dict[str, Any]] = {}
    for r in records:
        previous = run_values.get(r.portal_run_id)
        if previous is not None and previous != r.values:
            raise DomainError(
                f"{at_line(r.line)}portal run {r.portal_run_id} appears on earlier lines with different values",
                details={"line": r.line, "column": "portal_run_id"},
            )
        run_values[r.portal_run_id] = r.values
    return run_values


def _check_sources(records: Sequence[WorkflowRecord]) -> None:
    """Every run's output prefix is inside an allowed catalogue source: a run's output is
    listed and packaged, so an output URI elsewhere (another package's folder in the artifact
    bucket, a recipient's bucket) would catalogue and share what it points at."""
    policy = source_policy_load()
    refused = [r for r in records if not policy.allows_uri(r.values["output_uri"])]
    if not refused:
        return
    first = refused[0]
    error = policy.refusal(
        [r.values["output_uri"] for r in refused],
        what="output URI"
        + (" (from WORKFLOW_OUTPUT_URI_TEMPLATE)" if first.output_uri_from_template else ""),
    )
    where = f"line {first.line}, column 'output_uri': " if first.line is not None else ""
    raise DomainError(
        f"{where}portal run {first.portal_run_id}: {error.message}",
        details={"line": first.line, "column": "output_uri", **error.details},
    )


@transaction.atomic
def catalog_import_workflows(
    *, records: Sequence[WorkflowRecord], create_unknown_libraries: bool = False
) -> ImportResult:
    """Upsert workflow runs and their libraries (one record per run and library).

    A library the catalog does not know is an error (import the LIMS file first), unless
    `create_unknown_libraries` (platform events, which may arrive before the LIMS import): then
    it is created, as a fastq list creates its libraries, and its LIMS metadata follows.

    Every output URI must be inside an allowed catalogue source (400 naming the first line and
    every refused URI); nothing is written otherwise."""
    run_values = _run_values(records)
    _check_sources(records)
    library_ids = {r.library_id for r in records}
    result = ImportResult()
    if create_unknown_libraries:
        result.extra["librariesCreated"] = libraries_ensure(library_ids)
    libraries = dict(
        Library.objects.filter(library_id__in=library_ids).values_list("library_id", "pk")
    )
    unknown = [r for r in records if r.library_id not in libraries]
    if unknown:
        names = sorted({r.library_id for r in unknown})
        where = (
            f"line {unknown[0].line}, column 'library_id': " if unknown[0].line is not None else ""
        )
        raise DomainError(
            f"{where}unknown library {unknown[0].library_id!r}"
            + (f" (and {len(names) - 1} more)" if len(names) > 1 else "")
            + "; import the LIMS file first",
            details={"line": unknown[0].line, "column": "library_id", "unknownLibraries": names},
        )
    runs, created, updated = upsert(WorkflowRun, "portal_run_id", run_values)
    through = WorkflowRun.libraries.through
    existing = set(
        through.objects.filter(workflowrun_id__in=[run.pk for run in runs.values()]).values_list(
            "workflowrun_id", "library_id"
        )
    )
    wanted = {(runs[r.portal_run_id].pk, libraries[r.library_id]) for r in records}
    new_links = wanted - existing
    through.objects.bulk_create(
        [through(workflowrun_id=run, library_id=lib) for run, lib in new_links],
        batch_size=BATCH,
        ignore_conflicts=True,
    )
    for r in records:
        link_new = (runs[r.portal_run_id].pk, libraries[r.library_id]) in new_links
        if r.portal_run_id in created:
            result.count("created")
        elif r.portal_run_id in updated or link_new:
            result.count("updated")
        else:
            result.count("unchanged")
    logger.info("workflow import: %s", result.as_dict())
    return result
