"""LIMS mart export -> projects, individuals, subjects, sequencing runs and libraries."""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from data_sharing_formats.columns import LIMS_COLUMNS, LIMS_OPTIONAL_COLUMNS
from data_sharing_formats.identifiers import INSTRUMENT_RUN_ID_RE, base_library_id
from django.db import models, transaction

from catalog_app.importers.base import (
    BATCH,
    ImportResult,
    identifier,
    to_date,
    to_datetime,
    upsert,
)
from catalog_app.models import (
    Individual,
    Library,
    LibraryRun,
    Project,
    SequencingRun,
    Subject,
)
from datasharing.csvfile import RecordValues, read_csv

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class LimsRecord:
    """One LIMS row: a library (by its base id) as sequenced on a run."""

    run_id: str
    run_date: dt.date | None
    library_id: str
    source_library_id: str  # as written: `L2401544_topup2` for base library `L2401544`
    internal_subject_id: str
    external_subject_id: str
    individual_id: str
    project_id: str
    owner_id: str
    library_fields: dict[str, Any]
    line: int | None = None


def lims_record(row: RecordValues) -> LimsRecord:
    """Check one row's values (mart column names) and make its record."""
    source_library_id = identifier(row, "library_id")
    run_id = identifier(row, "sequencing_run_id", required=False, pattern=INSTRUMENT_RUN_ID_RE)
    coverage = row.parsed("coverage", float, what="number")
    if coverage is not None and coverage < 0:
        raise row.error("coverage", "must not be negative")
    row.parsed("load_datetime", to_datetime, what="date-time")
    return LimsRecord(
        line=row.line,
        run_id=run_id,
        run_date=row.parsed("sequencing_run_date", to_date, what="date (YYYY-MM-DD)"),
        library_id=base_library_id(source_library_id),
        source_library_id=source_library_id,
        internal_subject_id=identifier(row, "internal_subject_id", required=False),
        external_subject_id=row.get("external_subject_id"),
        individual_id=identifier(row, "individual_id", required=False),
        project_id=identifier(row, "project_id", required=False),
        owner_id=row.get("owner_id"),
        library_fields={
            "sample_id": identifier(row, "sample_id", required=False),
            "external_sample_id": row.get("external_sample_id"),
            "experiment_id": row.get("experiment_id"),
            "phenotype": row.get("phenotype"),
            "type": row.get("type"),
            "assay": row.get("assay"),
            "workflow": row.get("workflow"),
            "quality": row.get("quality"),
            "source": row.get("source"),
            "truseq_index": row.get("truseq_index"),
            "coverage": coverage,
        },
    )


def lims_records_from_csv(text: str, *, name: str = "LIMS file") -> list[LimsRecord]:
    """Every row of a LIMS mart export, checked; the first bad one raises `CsvRowError` (line and
    column)."""
    return [
        lims_record(row)
        for row in read_csv(text, required=LIMS_COLUMNS, optional=LIMS_OPTIONAL_COLUMNS, name=name)
    ]


@dataclass
class _Upserted:
    """Rows the import wrote or found, by their keys, and the keys of those it changed."""

    projects: dict[str, Project]
    subjects: dict[str, Subject]
    runs: dict[str, SequencingRun]
    libraries: dict[str, Library]
    libraries_created: set[str]
    projects_updated: set[str]
    subjects_updated: set[str]
    runs_updated: set[str]
    libraries_updated: set[str]


@transaction.atomic
def catalog_import_lims(*, records: Sequence[LimsRecord]) -> ImportResult:
    """Upsert projects, individuals, subjects, runs and libraries from LIMS records."""
    rows = _upsert_entities(records)
    new_links = _link_runs(records, rows)
    membership_changed = _sync_projects(records, rows)
    result = ImportResult()
    for r in records:
        library = rows.libraries[r.library_id]
        link_is_new = (
            bool(r.run_id)
            and (library.pk, rows.runs[r.run_id].pk, r.source_library_id) in new_links
        )
        if r.library_id in rows.libraries_created or link_is_new:
            result.count("created")
        elif (
            r.library_id in rows.libraries_updated
            or library.pk in membership_changed
            or r.internal_subject_id in rows.subjects_updated
            or r.project_id in rows.projects_updated
            or r.run_id in rows.runs_updated
        ):
            result.count("updated")
        else:
            result.count("unchanged")
    logger.info("LIMS import: %s", result.as_dict())
    return result


def _upsert_entities(records: Sequence[LimsRecord]) -> _Upserted:
    projects, _, projects_updated = upsert(
        Project,
        "project_id",
        {r.project_id: {"owner_id": r.owner_id} for r in records if r.project_id},
    )
    individuals, _, _ = upsert(
        Individual, "individual_id", {r.individual_id: {} for r in records if r.individual_id}
    )
    subject_values: dict[str, dict[str, Any]] = {}
    for r in records:
        if r.internal_subject_id:
            values: dict[str, Any] = {"external_subject_id": r.external_subject_id}
            if r.individual_id:
                values["individual_id"] = individuals[r.individual_id].pk
            subject_values[r.internal_subject_id] = values
    subjects, _, subjects_updated = upsert(Subject, "internal_subject_id", subject_values)
    runs, _, runs_updated = upsert(
        SequencingRun,
        "instrument_run_id",
        {r.run_id: {"run_date": r.run_date} for r in records if r.run_id},
    )
    library_values: dict[str, dict[str, Any]] = {}
    for r in records:
        values = dict(r.library_fields)
        values["subject_id"] = subjects[r.internal_subject_id].pk if r.internal_subject_id else None
        library_values[r.library_id] = values
    libraries, libraries_created, libraries_updated = upsert(Library, "library_id", library_values)
    return _Upserted(
        projects=projects,
        subjects=subjects,
        runs=runs,
        libraries=libraries,
        libraries_created=libraries_created,
        projects_updated=projects_updated,
        subjects_updated=subjects_updated,
        runs_updated=runs_updated,
        libraries_updated=libraries_updated,
    )


def _link_runs(records: Sequence[LimsRecord], rows: _Upserted) -> set[tuple[int, int, str]]:
    """Library <-> run links as written (topups included); returns the new ones."""
    wanted = {
        (rows.libraries[r.library_id].pk, rows.runs[r.run_id].pk, r.source_library_id)
        for r in records
        if r.run_id
    }
    existing = set(
        LibraryRun.objects.filter(
            library_id__in=[lib.pk for lib in rows.libraries.values()]
        ).values_list("library_id", "run_id", "source_library_id")
    )
    new_links = wanted - existing
    LibraryRun.objects.bulk_create(
        [
            LibraryRun(library_id=lib, run_id=run, source_library_id=src)
            for lib, run, src in new_links
        ],
        batch_size=BATCH,
        ignore_conflicts=True,
    )
    return new_links


def _sync_projects(records: Sequence[LimsRecord], rows: _Upserted) -> set[int]:
    """Library <-> project membership: the records are the truth for the libraries they list.
    Returns the primary keys of libraries whose projects changed."""
    through = Library.projects.through
    wanted_projects: dict[int, set[int]] = defaultdict(set)
    for r in records:
        if r.project_id:
            wanted_projects[rows.libraries[r.library_id].pk].add(rows.projects[r.project_id].pk)
    current_projects: dict[int, set[int]] = defaultdict(set)
    for library_pk, project_pk in through.objects.filter(
        library_id__in=list(wanted_projects)
    ).values_list("library_id", "project_id"):
        current_projects[library_pk].add(project_pk)
    membership_changed: set[int] = set()
    to_add: list[Any] = []
    stale: list[tuple[int, int]] = []
    for library_pk, wanted in wanted_projects.items():
        current = current_projects.get(library_pk, set())
        if wanted != current:
            membership_changed.add(library_pk)
            to_add.extend(through(library_id=library_pk, project_id=p) for p in wanted - current)
            stale.extend((library_pk, p) for p in current - wanted)
    through.objects.bulk_create(to_add, batch_size=BATCH, ignore_conflicts=True)
    if stale:
        query = models.Q()
        for library_pk, project_pk in stale:
            query |= models.Q(library_id=library_pk, project_id=project_pk)
        through.objects.filter(query).delete()
    return membership_changed
