"""BCL Convert `fastq_list.csv` (or fastq list events) -> the FASTQs of one sequencing run."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from data_sharing_formats.identifiers import INSTRUMENT_RUN_ID_RE, base_library_id
from django.db import transaction
from django.utils import timezone

from catalog_app.importers.base import BATCH, ImportResult, at_line, identifier, libraries_ensure
from catalog_app.importers.storage import SYNC_FIELDS, object_values, objects_listed
from catalog_app.models import Fastq, Library, LibraryRun, SequencingRun, StoredObject
from catalog_app.services import fastq_rows_delete
from catalog_app.sources.names import unsafe_name_problem
from catalog_app.sources.policy import source_policy_load
from datasharing import s3
from datasharing.csvfile import RecordValues, read_csv
from datasharing.errors import DomainError

logger = logging.getLogger(__name__)

FASTQ_LIST_COLUMNS = ("RGID", "RGSM", "RGLB", "Lane", "Read1File", "Read2File")
FASTQ_FIELDS = (
    "library_id",
    "run_id",
    "lane",
    "rgid",
    "source_library_id",
    "read2_id",
    "compression_format",
)


@dataclass(frozen=True)
class FastqRecord:
    """One fastq list row: a library's reads on one lane. The keys are in the bucket of the base
    URI the record was made with."""

    rgid: str
    source_library_id: str  # RGSM as written: `L2401544_topup` for base library `L2401544`
    library_id: str
    lane: int
    read1_key: str
    read2_key: str  # "" for single-end reads
    line: int | None = None


def fastq_list_base(base_uri: str) -> s3.S3Uri:
    """The prefix a fastq list's relative file paths are below."""
    return s3.parse_s3_uri(base_uri if base_uri.endswith("/") else base_uri + "/")


def _fastq_key(row: RecordValues, column: str, base: s3.S3Uri, *, required: bool) -> str:
    value = row.required(column) if required else row.get(column)
    if not value:
        return ""
    problem = unsafe_name_problem(value)
    if problem:
        raise row.error(column, f"{value!r}: {problem}")
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


def fastq_record(row: RecordValues, *, base: s3.S3Uri) -> FastqRecord:
    """Check one row's values (fastq_list.csv column names) and make its record; file paths are
    relative to `base` or s3:// URIs in its bucket."""
    source_library_id = identifier(row, "RGSM")
    lane = row.parsed("Lane", int, what="lane number")
    if lane is None or not 1 <= lane <= 64:
        raise row.error("Lane", "lane must be a number from 1 to 64")
    return FastqRecord(
        line=row.line,
        rgid=row.required("RGID"),
        source_library_id=source_library_id,
        library_id=base_library_id(source_library_id),
        lane=lane,
        read1_key=_fastq_key(row, "Read1File", base, required=True),
        read2_key=_fastq_key(row, "Read2File", base, required=False),
    )


def fastq_list_records_from_csv(
    text: str, *, base_uri: str, name: str = "fastq list"
) -> list[FastqRecord]:
    """Every row of a fastq_list.csv, checked; the first bad one raises `CsvRowError` (line and
    column)."""
    base = fastq_list_base(base_uri)
    return [
        fastq_record(row, base=base)
        for row in read_csv(text, required=FASTQ_LIST_COLUMNS, name=name)
    ]


def _compression(file_name: str) -> str:
    if file_name.endswith(".ora"):
        return Fastq.Compression.ORA
    if file_name.endswith(".gz"):
        return Fastq.Compression.GZIP
    return Fastq.Compression.NONE


def _file_keys(records: Sequence[FastqRecord]) -> list[str]:
    """Every file the records list; one listed twice is an error."""
    keys = [r.read1_key for r in records] + [r.read2_key for r in records if r.read2_key]
    duplicates = {key for key, times in Counter(keys).items() if times > 1}
    if duplicates:
        first = next(r for r in records if r.read1_key in duplicates or r.read2_key in duplicates)
        raise DomainError(
            f"{at_line(first.line)}file listed more than once: {sorted(duplicates)[0]}",
            details={"line": first.line, "column": "Read1File"},
        )
    return keys


@dataclass
class _Catalogued:
    objects: dict[str, StoredObject]  # by key
    changed_keys: set[str]  # objects whose size, ETag or storage class changed
    missing_in_storage: int


def _catalogue_files(keys: list[str], base: s3.S3Uri) -> _Catalogued:
    """Catalogue the listed files with what one listing of `base` says about them."""
    wanted_keys = set(keys)
    listing = {
        info.key: info for info in objects_listed(base.bucket, base.key) if info.key in wanted_keys
    }
    now = timezone.now()
    values_by_key: dict[str, dict[str, Any]] = {}
    for key in keys:
        info = listing.get(key)
        values_by_key[key] = object_values(info) | {"last_seen": now} if info else {}
    existing = {
        obj.key: obj for obj in StoredObject.objects.filter(bucket=base.bucket, key__in=keys)
    }
    StoredObject.objects.bulk_create(
        [
            StoredObject(bucket=base.bucket, key=k, **v)
            for k, v in values_by_key.items()
            if k not in existing
        ],
        batch_size=BATCH,
        ignore_conflicts=True,
    )
    changed = []
    for key, values in values_by_key.items():
        obj = existing.get(key)
        if obj is not None and values and any(getattr(obj, n) != values[n] for n in SYNC_FIELDS):
            for name, value in values.items():
                setattr(obj, name, value)
            changed.append(obj)
    StoredObject.objects.bulk_update(changed, [*SYNC_FIELDS, "last_seen"], batch_size=BATCH)
    return _Catalogued(
        objects={
            obj.key: obj for obj in StoredObject.objects.filter(bucket=base.bucket, key__in=keys)
        },
        changed_keys={obj.key for obj in changed},
        missing_in_storage=sum(1 for key in keys if key not in listing),
    )


def _check_sources(records: Sequence[FastqRecord], base: s3.S3Uri) -> None:
    """The base URI and every file are inside an allowed catalogue source (a file may be an
    s3:// URI anywhere in the base URI's bucket)."""
    policy = source_policy_load()
    policy.require(str(base), what="base URI")
    for r in records:
        for column, key in (("Read1File", r.read1_key), ("Read2File", r.read2_key)):
            if key and not policy.allows(base.bucket, key):
                error = policy.refusal([f"s3://{base.bucket}/{key}"], what="file")
                raise DomainError(
                    f"{at_line(r.line)}column {column!r}: {error.message}",
                    details={"line": r.line, "column": column, **error.details},
                )


@transaction.atomic
def catalog_import_fastq_list(
    *,
    records: Sequence[FastqRecord],
    instrument_run_id: str,
    base_uri: str,
    authoritative: bool = True,
) -> ImportResult:
    """Register the FASTQs of one run from fastq list records; RGSM is the library id.

    The records' keys are in `base_uri`'s bucket (as `fastq_list_records_from_csv` or
    `fastq_record` made them with that base); the base URI and every file must be inside an
    allowed catalogue source. Sizes, ETags and storage classes come from one listing of
    `base_uri`. Libraries unknown to the catalog are created (their LIMS metadata follows).

    `authoritative` (a fastq list file, through the API or the command): the list is the run's
    whole list, so the run's FASTQ rows it no longer names are removed (`removed`), e.g. the
    rows of an earlier import with a wrong base URI. Packages frozen from them keep their files
    (source URIs, sizes, checksums), detached from the removed rows. Otherwise (platform events,
    which announce rows added) rows are added and updated, never removed.
    """
    if not INSTRUMENT_RUN_ID_RE.fullmatch(instrument_run_id or ""):
        raise DomainError(f"{instrument_run_id!r} is not a valid instrument run id.")
    base = fastq_list_base(base_uri)
    keys = _file_keys(records)
    _check_sources(records, base)
    result = ImportResult()
    run, _ = SequencingRun.objects.get_or_create(instrument_run_id=instrument_run_id)
    result.extra["librariesCreated"] = libraries_ensure({r.library_id for r in records})
    catalogued = _catalogue_files(keys, base)
    result.extra["missingInStorage"] = catalogued.missing_in_storage
    _upsert_fastqs(records, run=run, catalogued=catalogued, result=result)
    if authoritative:
        listed = [catalogued.objects[r.read1_key].pk for r in records]
        result.extra["removed"] = fastq_rows_delete(
            fastqs=Fastq.objects.filter(run=run).exclude(read1_id__in=listed)
        )
    logger.info("fastq list import for %s: %s", instrument_run_id, result.as_dict())
    return result


def _upsert_fastqs(
    records: Sequence[FastqRecord],
    *,
    run: SequencingRun,
    catalogued: _Catalogued,
    result: ImportResult,
) -> None:
    libraries = {
        lib.library_id: lib
        for lib in Library.objects.filter(library_id__in={r.library_id for r in records})
    }
    objects = catalogued.objects
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
        elif read1.key in catalogued.changed_keys:
            result.count("updated")
        else:
            result.count("unchanged")
    LibraryRun.objects.bulk_create(new_links, batch_size=BATCH, ignore_conflicts=True)
    Fastq.objects.bulk_create(to_create, batch_size=BATCH)
    Fastq.objects.bulk_update(to_update, list(FASTQ_FIELDS), batch_size=BATCH)
