"""Writes to the catalog: idempotent, set-based importers.

Every importer parses the whole file first (a bad row fails the import with its line and column),
then upserts inside one transaction with a bounded number of queries: one read per entity type,
bulk inserts and bulk updates in batches. Re-importing the same file changes nothing.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from django.conf import settings
from django.db import connection, models, transaction
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from catalog_app.models import (
    Fastq,
    Individual,
    Library,
    LibraryRun,
    Project,
    SequencingRun,
    StoredObject,
    Subject,
    WorkflowRun,
)
from datasharing import s3
from datasharing.csvfile import CsvRow, read_csv
from datasharing.errors import DomainError

logger = logging.getLogger(__name__)

M = TypeVar("M", bound=models.Model)
BATCH = 1000

LIMS_COLUMNS = (
    "sequencing_run_id",
    "sequencing_run_date",
    "library_id",
    "internal_subject_id",
    "external_subject_id",
    "sample_id",
    "external_sample_id",
    "experiment_id",
    "project_id",
    "owner_id",
    "workflow",
    "phenotype",
    "type",
    "assay",
    "quality",
    "source",
    "truseq_index",
    "load_datetime",
    "partition_schema_name",
    "partition_name",
)
LIMS_OPTIONAL_COLUMNS = ("individual_id", "coverage")
WORKFLOW_COLUMNS = (
    "portal_run_id",
    "library_id",
    "workflow_name",
    "workflow_version",
    "workflow_status",
    "workflow_start",
    "workflow_end",
    "workflow_duration",
    "workflow_comment",
    "partition_schema_name",
    "partition_name",
)
WORKFLOW_OPTIONAL_COLUMNS = ("output_uri",)
FASTQ_LIST_COLUMNS = ("RGID", "RGSM", "RGLB", "Lane", "Read1File", "Read2File")

IDENTIFIER_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]{0,99}$")
TOPUP_RERUN_RE = re.compile(r"^(?P<base>.+?)_(?:topup|rerun)\d*$")
PORTAL_RUN_ID_RE = re.compile(r"^\d{8}[0-9a-f]{8}$")
INSTRUMENT_RUN_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,254}$")
WORKFLOW_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]{0,99}$")


@dataclass
class ImportResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    extra: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, int]:
        return {
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            **self.extra,
        }

    def count(self, outcome: str) -> None:
        setattr(self, outcome, getattr(self, outcome) + 1)


def base_library_id(library_id: str) -> str:
    """`L2401544_topup2` and `L2401544_rerun` belong to `L2401544`."""
    match = TOPUP_RERUN_RE.fullmatch(library_id)
    return match.group("base") if match else library_id


def _identifier(
    row: CsvRow, column: str, *, required: bool = True, pattern: re.Pattern[str] = IDENTIFIER_RE
) -> str:
    value = row.required(column) if required else row.get(column)
    if value and not pattern.fullmatch(value):
        raise row.error(column, f"{value!r} is not a valid identifier")
    return value


def _date(value: str) -> dt.date:
    parsed = parse_date(value[:10]) if len(value) >= 10 else None
    if parsed is None:
        raise ValueError(value)
    return parsed


def _datetime(value: str) -> dt.datetime:
    parsed = (
        parse_datetime(value.replace(" ", "T", 1)) if "T" not in value else parse_datetime(value)
    )
    if parsed is None:
        parsed_date = parse_date(value)
        if parsed_date is None:
            raise ValueError(value)
        parsed = dt.datetime.combine(parsed_date, dt.time())
    if timezone.is_naive(parsed):
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed


def _upsert(
    model: type[M],
    key_field: str,
    desired: dict[str, dict[str, Any]],
) -> tuple[dict[str, M], set[str], set[str]]:
    """Make rows keyed by `key_field` hold `desired` values.

    Returns (rows by key, keys created, keys updated). Three queries plus batches.
    """
    if not desired:
        return {}, set(), set()
    existing: dict[str, M] = {
        getattr(obj, key_field): obj
        for obj in model._default_manager.filter(**{f"{key_field}__in": list(desired)})
    }
    to_create: list[M] = []
    to_update: list[M] = []
    update_fields: set[str] = set()
    updated: set[str] = set()
    for key, values in desired.items():
        obj = existing.get(key)
        if obj is None:
            to_create.append(model(**{key_field: key}, **values))
            continue
        changed = [name for name, value in values.items() if getattr(obj, name) != value]
        if changed:
            for name in changed:
                setattr(obj, name, values[name])
            update_fields.update(changed)
            to_update.append(obj)
            updated.add(key)
    if to_create:
        model._default_manager.bulk_create(to_create, batch_size=BATCH)
        # Re-read so every row has its primary key on every database backend.
        for obj in model._default_manager.filter(
            **{f"{key_field}__in": [getattr(o, key_field) for o in to_create]}
        ):
            existing[getattr(obj, key_field)] = obj
    if to_update:
        model._default_manager.bulk_update(to_update, sorted(update_fields), batch_size=BATCH)
    return existing, {getattr(o, key_field) for o in to_create}, updated


# --- LIMS --------------------------------------------------------------------------------------


@dataclass
class LimsRecord:
    line: int
    run_id: str
    run_date: dt.date | None
    library_id: str
    source_library_id: str
    internal_subject_id: str
    external_subject_id: str
    individual_id: str
    project_id: str
    owner_id: str
    library_fields: dict[str, Any]


def _parse_lims_row(row: CsvRow) -> LimsRecord:
    source_library_id = _identifier(row, "library_id")
    run_id = _identifier(row, "sequencing_run_id", required=False, pattern=INSTRUMENT_RUN_ID_RE)
    coverage = row.parsed("coverage", float, what="number")
    if coverage is not None and coverage < 0:
        raise row.error("coverage", "must not be negative")
    row.parsed("load_datetime", _datetime, what="date-time")
    return LimsRecord(
        line=row.line,
        run_id=run_id,
        run_date=row.parsed("sequencing_run_date", _date, what="date (YYYY-MM-DD)"),
        library_id=base_library_id(source_library_id),
        source_library_id=source_library_id,
        internal_subject_id=_identifier(row, "internal_subject_id", required=False),
        external_subject_id=row.get("external_subject_id"),
        individual_id=_identifier(row, "individual_id", required=False),
        project_id=_identifier(row, "project_id", required=False),
        owner_id=row.get("owner_id"),
        library_fields={
            "sample_id": _identifier(row, "sample_id", required=False),
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


def parse_lims_csv(text: str, *, name: str = "LIMS file") -> list[LimsRecord]:
    return [
        _parse_lims_row(row)
        for row in read_csv(text, required=LIMS_COLUMNS, optional=LIMS_OPTIONAL_COLUMNS, name=name)
    ]


@transaction.atomic
def catalog_import_lims(*, text: str) -> ImportResult:
    """Upsert projects, individuals, subjects, runs and libraries from a LIMS mart export."""
    records = parse_lims_csv(text)
    result = ImportResult()

    projects, _, projects_updated = _upsert(
        Project,
        "project_id",
        {r.project_id: {"owner_id": r.owner_id} for r in records if r.project_id},
    )
    individuals, _, _ = _upsert(
        Individual, "individual_id", {r.individual_id: {} for r in records if r.individual_id}
    )
    subject_values: dict[str, dict[str, Any]] = {}
    for r in records:
        if r.internal_subject_id:
            values: dict[str, Any] = {"external_subject_id": r.external_subject_id}
            if r.individual_id:
                values["individual_id"] = individuals[r.individual_id].pk
            subject_values[r.internal_subject_id] = values
    subjects, _, subjects_updated = _upsert(Subject, "internal_subject_id", subject_values)
    runs, _, runs_updated = _upsert(
        SequencingRun,
        "instrument_run_id",
        {r.run_id: {"run_date": r.run_date} for r in records if r.run_id},
    )
    library_values: dict[str, dict[str, Any]] = {}
    for r in records:
        values = dict(r.library_fields)
        values["subject_id"] = subjects[r.internal_subject_id].pk if r.internal_subject_id else None
        library_values[r.library_id] = values
    libraries, libraries_created, libraries_updated = _upsert(Library, "library_id", library_values)

    # Library <-> run links (as written, topups included).
    wanted_links = {
        (libraries[r.library_id].pk, runs[r.run_id].pk, r.source_library_id)
        for r in records
        if r.run_id
    }
    existing_links = set(
        LibraryRun.objects.filter(
            library_id__in=[lib.pk for lib in libraries.values()]
        ).values_list("library_id", "run_id", "source_library_id")
    )
    new_links = wanted_links - existing_links
    LibraryRun.objects.bulk_create(
        [
            LibraryRun(library_id=lib, run_id=run, source_library_id=src)
            for lib, run, src in new_links
        ],
        batch_size=BATCH,
        ignore_conflicts=True,
    )

    # Library <-> project membership: the file is the truth for the libraries it lists.
    through = Library.projects.through
    wanted_projects: dict[int, set[int]] = defaultdict(set)
    for r in records:
        if r.project_id:
            wanted_projects[libraries[r.library_id].pk].add(projects[r.project_id].pk)
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

    new_link_keys = {(lib, run, src) for lib, run, src in new_links}
    for r in records:
        library = libraries[r.library_id]
        link_is_new = (
            bool(r.run_id) and (library.pk, runs[r.run_id].pk, r.source_library_id) in new_link_keys
        )
        if r.library_id in libraries_created or link_is_new:
            result.count("created")
        elif (
            r.library_id in libraries_updated
            or library.pk in membership_changed
            or r.internal_subject_id in subjects_updated
            or r.project_id in projects_updated
            or r.run_id in runs_updated
        ):
            result.count("updated")
        else:
            result.count("unchanged")
    logger.info("LIMS import: %s", result.as_dict())
    return result


# --- Workflow runs -----------------------------------------------------------------------------


def workflow_output_uri(*, workflow_name: str, portal_run_id: str) -> str:
    return settings.WORKFLOW_OUTPUT_URI_TEMPLATE.format(
        bucket=settings.WORKFLOW_OUTPUT_BUCKET,
        workflow_name=workflow_name,
        portal_run_id=portal_run_id,
    )


@dataclass
class WorkflowRecord:
    line: int
    portal_run_id: str
    library_id: str
    values: dict[str, Any]


def _parse_workflow_row(row: CsvRow) -> WorkflowRecord:
    portal_run_id = row.required("portal_run_id")
    if not PORTAL_RUN_ID_RE.fullmatch(portal_run_id):
        raise row.error(
            "portal_run_id",
            f"{portal_run_id!r} is not a portal run id (YYYYMMDD + 8 hex characters)",
        )
    workflow_name = _identifier(row, "workflow_name", pattern=WORKFLOW_NAME_RE)
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
        portal_run_id=portal_run_id,
        library_id=base_library_id(_identifier(row, "library_id")),
        values={
            "workflow_name": workflow_name,
            "workflow_version": row.get("workflow_version"),
            "status": row.required("workflow_status").upper(),
            "start_time": row.parsed("workflow_start", _datetime, what="date-time"),
            "end_time": row.parsed("workflow_end", _datetime, what="date-time"),
            "duration_seconds": duration,
            "comment": row.get("workflow_comment"),
            "output_uri": output_uri,
        },
    )


@transaction.atomic
def catalog_import_workflows(*, text: str, create_unknown_libraries: bool = False) -> ImportResult:
    """Upsert workflow runs and their libraries (one mart row per run and library).

    A library the catalog does not know is an error (import the LIMS file first), unless
    `create_unknown_libraries` (platform events, which may arrive before the LIMS import): then
    it is created, as a fastq list creates its libraries, and its LIMS metadata follows."""
    records = [
        _parse_workflow_row(row)
        for row in read_csv(
            text,
            required=WORKFLOW_COLUMNS,
            optional=WORKFLOW_OPTIONAL_COLUMNS,
            name="workflow file",
        )
    ]
    run_values: dict[str, dict[str, Any]] = {}
    for r in records:
        previous = run_values.get(r.portal_run_id)
        if previous is not None and previous != r.values:
            raise DomainError(
                f"line {r.line}: portal run {r.portal_run_id} appears on earlier lines with different values",
                details={"line": r.line, "column": "portal_run_id"},
            )
        run_values[r.portal_run_id] = r.values
    library_ids = {r.library_id for r in records}
    result = ImportResult()
    if create_unknown_libraries:
        result.extra["librariesCreated"] = _libraries_ensure(library_ids)
    libraries = dict(
        Library.objects.filter(library_id__in=library_ids).values_list("library_id", "pk")
    )
    unknown = [r for r in records if r.library_id not in libraries]
    if unknown:
        names = sorted({r.library_id for r in unknown})
        raise DomainError(
            f"line {unknown[0].line}, column 'library_id': unknown library {unknown[0].library_id!r}"
            + (f" (and {len(names) - 1} more)" if len(names) > 1 else "")
            + "; import the LIMS file first",
            details={"line": unknown[0].line, "column": "library_id", "unknownLibraries": names},
        )
    runs, created, updated = _upsert(WorkflowRun, "portal_run_id", run_values)
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


# --- Storage ------------------------------------------------------------------------------------


def _object_values(info: s3.ObjectInfo) -> dict[str, Any]:
    return {
        "size": info.size,
        "etag": info.etag,
        "storage_class": info.storage_class,
        "restore_state": info.restore_state or "",
        "restore_expiry": info.restore_expiry or "",
        "last_modified": info.last_modified,
        "missing": False,
    }


_SYNC_FIELDS = (
    "size",
    "etag",
    "storage_class",
    "restore_state",
    "restore_expiry",
    "last_modified",
    "missing",
)


def _apply_listing(
    bucket: str,
    listing: Iterable[s3.ObjectInfo],
    *,
    existing: dict[str, StoredObject],
    include: Callable[[str], bool],
    result: ImportResult,
) -> set[str]:
    """Upsert listed objects that are catalogued or accepted by `include`. Returns keys seen."""
    now = timezone.now()
    seen: set[str] = set()
    to_create: list[StoredObject] = []
    to_update: list[StoredObject] = []
    for info in listing:
        seen.add(info.key)
        values = _object_values(info)
        obj = existing.get(info.key)
        if obj is None:
            if include(info.key):
                to_create.append(StoredObject(bucket=bucket, key=info.key, last_seen=now, **values))
                result.count("created")
            continue
        changed = any(getattr(obj, name) != values[name] for name in _SYNC_FIELDS)
        for name in _SYNC_FIELDS:
            setattr(obj, name, values[name])
        obj.last_seen = now
        to_update.append(obj)
        result.count("updated" if changed else "unchanged")
        if len(to_update) >= BATCH:
            StoredObject.objects.bulk_update(to_update, [*_SYNC_FIELDS, "last_seen"])
            to_update = []
    StoredObject.objects.bulk_create(to_create, batch_size=BATCH, ignore_conflicts=True)
    if to_update:
        StoredObject.objects.bulk_update(to_update, [*_SYNC_FIELDS, "last_seen"])
    return seen


def _mark_missing(objects: Iterable[StoredObject], seen: set[str], result: ImportResult) -> None:
    gone = [obj.pk for obj in objects if obj.key not in seen and not obj.missing]
    for start in range(0, len(gone), BATCH):
        StoredObject.objects.filter(pk__in=gone[start : start + BATCH]).update(missing=True)
    result.extra["missing"] = result.extra.get("missing", 0) + len(gone)


def catalog_sync_prefix(*, uri: str) -> ImportResult:
    """Catalogue every object under `uri` (one paginated listing) and flag catalogued ones gone."""
    location = s3.parse_s3_uri(uri)
    result = ImportResult()
    existing = {
        obj.key: obj
        for obj in StoredObject.objects.filter(bucket=location.bucket, key__startswith=location.key)
    }
    with transaction.atomic():
        seen = _apply_listing(
            location.bucket,
            _listing(location.bucket, location.key),
            existing=existing,
            include=lambda _key: True,
            result=result,
        )
        _mark_missing(existing.values(), seen, result)
    return result


def catalog_object_refresh(*, bucket: str, key: str) -> str:
    """Read one object's state from S3 (HEAD) into the catalog, as a storage notification asks.

    Returns "created", "updated", "unchanged", "missing" (catalogued, now gone) or "absent"
    (neither in storage nor in the catalog). HEAD, not a listing, so the restore state is read.
    """
    info = s3.head_object(bucket, key)
    now = timezone.now()
    with transaction.atomic():
        obj = StoredObject.objects.select_for_update().filter(bucket=bucket, key=key).first()
        if info is None:
            if obj is None:
                return "absent"
            if not obj.missing:
                obj.missing = True
                obj.save(update_fields=["missing"])
            return "missing"
        values = _object_values(info)
        if obj is None:
            StoredObject.objects.create(bucket=bucket, key=key, last_seen=now, **values)
            return "created"
        changed = any(getattr(obj, name) != values[name] for name in _SYNC_FIELDS)
        for name in _SYNC_FIELDS:
            setattr(obj, name, values[name])
        obj.last_seen = now
        obj.save(update_fields=[*_SYNC_FIELDS, "last_seen"])
    return "updated" if changed else "unchanged"


LAST_SEEN_CHUNK = 10_000


def prefix_query_chunk() -> int:
    """How many `key LIKE 'prefix%'` alternatives one query may OR together: SQLite refuses
    expression trees deeper than 1,000."""
    return 200 if connection.vendor == "sqlite" else 1000


def _listing(bucket: str, prefix: str) -> Iterator[s3.ObjectInfo]:
    """The objects under a prefix; a missing or forbidden bucket is a clear 400, not a crash."""
    try:
        yield from s3.list_objects(bucket, prefix)
    except s3.S3_ERRORS as exc:
        code = s3.error_code(exc)
        if code in {"NoSuchBucket", "AccessDenied", "403", "404"}:
            raise DomainError(f"Cannot list s3://{bucket}/{prefix}: {code}.") from None
        raise


def _list_prefix(location: s3.S3Uri) -> list[s3.ObjectInfo]:
    return list(_listing(location.bucket, location.key))


def catalog_sync_prefixes(*, uris: Sequence[str], concurrency: int = 8) -> ImportResult:
    """Catalogue every object under each of `uris`, and flag catalogued ones that are gone.

    One paginated listing per URI (`concurrency` at a time); the database work is set-based per
    bucket: one read per 1,000 prefixes, inserts of new objects, updates of changed ones and one
    `last_seen` update per 10,000 unchanged ones, so the number of queries does not grow with the
    number of prefixes below those batch sizes.
    """
    locations = sorted({s3.parse_s3_uri(uri) for uri in uris}, key=str)
    result = ImportResult()
    if not locations:
        return result
    with ThreadPoolExecutor(max_workers=max(1, min(concurrency, len(locations)))) as pool:
        listings = list(pool.map(_list_prefix, locations))
    by_bucket: dict[str, tuple[list[str], dict[str, s3.ObjectInfo]]] = {}
    for location, listing in zip(locations, listings, strict=True):
        prefixes, objects = by_bucket.setdefault(location.bucket, ([], {}))
        prefixes.append(location.key)
        objects.update((info.key, info) for info in listing)
    now = timezone.now()
    with transaction.atomic():
        for bucket, (prefixes, listed) in by_bucket.items():
            existing: dict[str, StoredObject] = {}
            chunk = prefix_query_chunk()
            for start in range(0, len(prefixes), chunk):
                query = models.Q()
                for prefix in prefixes[start : start + chunk]:
                    query |= models.Q(key__startswith=prefix)
                existing.update(
                    (obj.key, obj) for obj in StoredObject.objects.filter(query, bucket=bucket)
                )
            to_create: list[StoredObject] = []
            changed: list[StoredObject] = []
            unchanged: list[int] = []
            for key, info in listed.items():
                values = _object_values(info)
                obj = existing.get(key)
                if obj is None:
                    to_create.append(StoredObject(bucket=bucket, key=key, last_seen=now, **values))
                    result.count("created")
                elif any(getattr(obj, name) != values[name] for name in _SYNC_FIELDS):
                    for name in _SYNC_FIELDS:
                        setattr(obj, name, values[name])
                    obj.last_seen = now
                    changed.append(obj)
                    result.count("updated")
                else:
                    unchanged.append(obj.pk)
                    result.count("unchanged")
            StoredObject.objects.bulk_create(to_create, batch_size=BATCH, ignore_conflicts=True)
            StoredObject.objects.bulk_update(
                changed, [*_SYNC_FIELDS, "last_seen"], batch_size=BATCH
            )
            for start in range(0, len(unchanged), LAST_SEEN_CHUNK):
                StoredObject.objects.filter(
                    pk__in=unchanged[start : start + LAST_SEEN_CHUNK]
                ).update(last_seen=now)
            _mark_missing(existing.values(), set(listed), result)
    return result


def catalog_sync_storage(*, uri: str | None = None) -> ImportResult:
    """Refresh size, ETag, storage class and restore state from S3.

    With `uri`, catalogue everything under it. Without, refresh every catalogued object and
    catalogue new objects under workflow run output prefixes: one listing per bucket, over the
    longest prefix the catalogued keys share.
    """
    if uri:
        return catalog_sync_prefix(uri=uri)
    result = ImportResult()
    output_prefixes: dict[str, list[str]] = defaultdict(list)
    for output_uri in WorkflowRun.objects.values_list("output_uri", flat=True):
        try:
            location = s3.parse_s3_uri(output_uri)
        except DomainError:
            continue
        output_prefixes[location.bucket].append(location.key)
    buckets = set(StoredObject.objects.values_list("bucket", flat=True).distinct()) | set(
        output_prefixes
    )
    for bucket in sorted(buckets):
        existing = {obj.key: obj for obj in StoredObject.objects.filter(bucket=bucket)}
        prefixes = output_prefixes.get(bucket, [])
        common = os.path.commonprefix([*existing, *prefixes])  # noqa: RUF071 - S3 prefixes are plain strings

        def include(key: str, prefixes: list[str] = prefixes) -> bool:
            return any(key.startswith(p) for p in prefixes)

        with transaction.atomic():
            seen = _apply_listing(
                bucket,
                _listing(bucket, common),
                existing=existing,
                include=include,
                result=result,
            )
            _mark_missing(existing.values(), seen, result)
    logger.info("storage sync: %s", result.as_dict())
    return result


# --- Fastq lists --------------------------------------------------------------------------------


def _compression(file_name: str) -> str:
    if file_name.endswith(".ora"):
        return Fastq.Compression.ORA
    if file_name.endswith(".gz"):
        return Fastq.Compression.GZIP
    return Fastq.Compression.NONE


@dataclass
class FastqRecord:
    line: int
    rgid: str
    source_library_id: str
    library_id: str
    lane: int
    read1_key: str
    read2_key: str


def _fastq_key(row: CsvRow, column: str, base: s3.S3Uri, *, required: bool) -> str:
    value = row.required(column) if required else row.get(column)
    if not value:
        return ""
    if value.startswith("s3://"):
        try:
            location = s3.parse_s3_uri(value, require_key=True)
        except DomainError as exc:
            raise row.error(column, exc.message) from None
        if location.bucket != base.bucket:
            raise row.error(column, f"file is not in bucket {base.bucket!r} of the base URI")
        return location.key
    if value.startswith("/") or any(part in {"", ".", ".."} for part in value.split("/")):
        raise row.error(column, f"{value!r} is not a relative path below the base URI")
    return base.child(value).key


def _libraries_ensure(library_ids: set[str]) -> int:
    """Create the libraries the catalog does not know yet (their LIMS metadata follows with the
    next LIMS import); returns how many were created."""
    known = set(
        Library.objects.filter(library_id__in=library_ids).values_list("library_id", flat=True)
    )
    missing = sorted(library_ids - known)
    Library.objects.bulk_create([Library(library_id=lib) for lib in missing], ignore_conflicts=True)
    return len(missing)


@transaction.atomic
def catalog_import_fastq_list(*, text: str, instrument_run_id: str, base_uri: str) -> ImportResult:
    """Register BCL Convert `fastq_list.csv` rows of one run; RGSM is the library id.

    File paths resolve under `base_uri`; sizes, ETags and storage classes come from one listing
    of that prefix. Libraries unknown to the catalog are created (their LIMS metadata follows).
    """
    if not INSTRUMENT_RUN_ID_RE.fullmatch(instrument_run_id or ""):
        raise DomainError(f"{instrument_run_id!r} is not a valid instrument run id.")
    base = s3.parse_s3_uri(base_uri if base_uri.endswith("/") else base_uri + "/")
    records: list[FastqRecord] = []
    for row in read_csv(text, required=FASTQ_LIST_COLUMNS, name="fastq list"):
        source_library_id = _identifier(row, "RGSM")
        lane = row.parsed("Lane", int, what="lane number")
        if lane is None or not 1 <= lane <= 64:
            raise row.error("Lane", "lane must be a number from 1 to 64")
        records.append(
            FastqRecord(
                line=row.line,
                rgid=row.required("RGID"),
                source_library_id=source_library_id,
                library_id=base_library_id(source_library_id),
                lane=lane,
                read1_key=_fastq_key(row, "Read1File", base, required=True),
                read2_key=_fastq_key(row, "Read2File", base, required=False),
            )
        )
    keys = [r.read1_key for r in records] + [r.read2_key for r in records if r.read2_key]
    duplicates = {key for key, times in Counter(keys).items() if times > 1}
    if duplicates:
        first = next(r for r in records if r.read1_key in duplicates or r.read2_key in duplicates)
        raise DomainError(
            f"line {first.line}: file listed more than once: {sorted(duplicates)[0]}",
            details={"line": first.line, "column": "Read1File"},
        )

    result = ImportResult()
    run, _ = SequencingRun.objects.get_or_create(instrument_run_id=instrument_run_id)
    result.extra["librariesCreated"] = _libraries_ensure({r.library_id for r in records})
    libraries = {
        lib.library_id: lib
        for lib in Library.objects.filter(library_id__in={r.library_id for r in records})
    }

    # Objects: catalogue the listed files with what storage says about them.
    wanted_keys = set(keys)
    listing = {
        info.key: info for info in _listing(base.bucket, base.key) if info.key in wanted_keys
    }
    now = timezone.now()
    object_values: dict[str, dict[str, Any]] = {}
    for key in keys:
        info = listing.get(key)
        object_values[key] = _object_values(info) | {"last_seen": now} if info else {}
    result.extra["missingInStorage"] = sum(1 for key in keys if key not in listing)
    existing_objects = {
        obj.key: obj for obj in StoredObject.objects.filter(bucket=base.bucket, key__in=keys)
    }
    new_objects = [
        StoredObject(bucket=base.bucket, key=k, **v)
        for k, v in object_values.items()
        if k not in existing_objects
    ]
    StoredObject.objects.bulk_create(new_objects, batch_size=BATCH, ignore_conflicts=True)
    changed_objects = []
    for key, values in object_values.items():
        obj = existing_objects.get(key)
        if obj is not None and values and any(getattr(obj, n) != values[n] for n in _SYNC_FIELDS):
            for name, value in values.items():
                setattr(obj, name, value)
            changed_objects.append(obj)
    StoredObject.objects.bulk_update(
        changed_objects, [*_SYNC_FIELDS, "last_seen"], batch_size=BATCH
    )
    objects = {
        obj.key: obj for obj in StoredObject.objects.filter(bucket=base.bucket, key__in=keys)
    }

    existing_fastqs = {
        fq.read1_id: fq for fq in Fastq.objects.filter(read1__in=list(objects.values()))
    }
    links = set(
        LibraryRun.objects.filter(run=run, library__in=list(libraries.values())).values_list(
            "library_id", "source_library_id"
        )
    )
    new_links: list[LibraryRun] = []
    to_create: list[Fastq] = []
    to_update: list[Fastq] = []
    for r in records:
        library = libraries[r.library_id]
        if (library.pk, r.source_library_id) not in links:
            links.add((library.pk, r.source_library_id))
            new_links.append(
                LibraryRun(library=library, run=run, source_library_id=r.source_library_id)
            )
        values = {
            "library_id": library.pk,
            "run_id": run.pk,
            "lane": r.lane,
            "rgid": r.rgid,
            "source_library_id": r.source_library_id,
            "read2_id": objects[r.read2_key].pk if r.read2_key else None,
            "compression_format": _compression(r.read1_key),
        }
        read1 = objects[r.read1_key]
        fastq = existing_fastqs.get(read1.pk)
        if fastq is None:
            to_create.append(Fastq(read1_id=read1.pk, **values))
            result.count("created")
        elif any(getattr(fastq, name) != value for name, value in values.items()):
            for name, value in values.items():
                setattr(fastq, name, value)
            to_update.append(fastq)
            result.count("updated")
        elif read1.key in {o.key for o in changed_objects}:
            result.count("updated")
        else:
            result.count("unchanged")
    LibraryRun.objects.bulk_create(new_links, batch_size=BATCH, ignore_conflicts=True)
    Fastq.objects.bulk_create(to_create, batch_size=BATCH)
    Fastq.objects.bulk_update(
        to_update,
        [
            "library_id",
            "run_id",
            "lane",
            "rgid",
            "source_library_id",
            "read2_id",
            "compression_format",
        ],
        batch_size=BATCH,
    )
    logger.info("fastq list import for %s: %s", instrument_run_id, result.as_dict())
    return result
