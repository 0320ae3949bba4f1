"""What the report shows, built from a package's frozen contents only.

Reads Package, PackageLibrary (the metadata snapshot), PackageAnalysis and PackageFile; never the
live catalog, so the report describes exactly what will be shared even if the LIMS changes later.
A constant number of queries whatever the package size (one per table).
"""

from __future__ import annotations

import datetime as dt
import functools
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from data_sharing_formats.identifiers import base_library_id
from django.utils import timezone

from datasharing import s3
from packages_app.models import DataType, Package, PackageAnalysis, PackageFile, PackageLibrary
from packages_app.report.formatting import snake_to_camel, utc_text

# Archive state of a file, as the report shows it.
ARCHIVED = "archived"  # in GLACIER / DEEP_ARCHIVE, no readable copy: cannot be shared as is
RESTORING = "restoring"  # a restore was requested and is in progress
RESTORED = "restored"  # archived, but a readable restored copy exists

NO_PROJECT = "(no project)"

# Keys of the PackageLibrary.metadata snapshot the report knows (snake_case; camelCase accepted).
# Any other key in the snapshot is shown as an extra column, so nothing frozen is hidden.
METADATA_FIELDS: tuple[tuple[str, str, bool], ...] = (
    # (key, label, shown in the PDF)
    ("sample_id", "Sample", True),
    ("external_sample_id", "External sample", True),
    ("subject_id", "Subject", True),
    ("external_subject_id", "External subject", True),
    ("individual_id", "Individual", False),
    ("project_ids", "Project", True),
    ("phenotype", "Phenotype", True),
    ("type", "Type", True),
    ("assay", "Assay", True),
    ("workflow", "Workflow", False),
    ("quality", "Quality", False),
    ("source", "Source", False),
    ("coverage", "Coverage", False),
    ("instrument_run_ids", "Instrument runs", True),
)
# Other names the same facts go by in snapshots (predecessor and LIMS spellings).
_METADATA_ALIASES: dict[str, tuple[str, ...]] = {
    "subject_id": ("internal_subject_id",),
    "project_ids": ("project_id", "project_id_list", "projects"),
    "instrument_run_ids": ("instrument_run_id", "sequencing_run_ids", "runs"),
}
_NOT_METADATA = {"library_id", "id"}


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    # text | int | bytes (shown human, sorted by bytes) | path | state (archive badge)
    # | status (workflow status badge) | datetime
    kind: str = "text"
    in_pdf: bool = True


@dataclass
class Table:
    """One section's table: rows are lists aligned with `columns`."""

    key: str
    title: str
    noun: str
    columns: tuple[Column, ...]
    rows: list[list[Any]] = field(default_factory=list)
    description: str = ""
    # Key of the column holding the archive state (enables the "archived only" filter).
    archive_column: str | None = None

    def index(self, key: str) -> int:
        for position, column in enumerate(self.columns):
            if column.key == key:
                return position
        raise KeyError(key)

    def values(self, key: str) -> list[Any]:
        position = self.index(key)
        return [row[position] for row in self.rows]

    def pdf_columns(self) -> list[int]:
        return [position for position, column in enumerate(self.columns) if column.in_pdf]

    def as_json(self) -> dict[str, Any]:
        """Compact form for the page's JSON data island.

        Text columns with few distinct values (runs, projects, storage classes) are sent as
        indexes into a per-column list, which keeps a 40,000-file report a few MB.
        """
        rows = [list(row) for row in self.rows]
        dictionaries: dict[str, list[Any]] = {}
        if len(rows) >= 50:
            for position, column in enumerate(self.columns):
                if column.kind not in {"text", "state", "status"}:
                    continue
                distinct = list(dict.fromkeys(row[position] for row in rows))
                if len(distinct) * 3 > len(rows):
                    continue
                lookup = {value: number for number, value in enumerate(distinct)}
                for row in rows:
                    row[position] = lookup[row[position]]
                dictionaries[str(position)] = distinct
        return {
            "key": self.key,
            "title": self.title,
            "noun": self.noun,
            "columns": [
                {"key": column.key, "label": column.label, "kind": column.kind}
                for column in self.columns
            ],
            "dictionaries": dictionaries,
            "rows": rows,
            "archiveColumn": self.index(self.archive_column) if self.archive_column else None,
        }


@dataclass
class BreakdownRow:
    label: str
    files: int = 0
    size: int = 0
    archived_files: int = 0
    libraries: int | None = None
    runs: int | None = None


@dataclass
class Breakdown:
    key: str
    title: str
    label_header: str
    rows: list[BreakdownRow]
    count_header: str = ""  # "Libraries" or "Runs" when the rows carry that count
    note: str = ""


@dataclass
class Totals:
    libraries: int = 0
    fastq_files: int = 0
    fastq_bytes: int = 0
    analyses: int = 0
    secondary_files: int = 0
    secondary_bytes: int = 0
    archived_files: int = 0
    archived_bytes: int = 0
    restoring_files: int = 0
    restored_files: int = 0
    archived_by_storage_class: dict[str, int] = field(default_factory=dict)
    archived_fastq_files: int = 0
    archived_secondary_files: int = 0

    @property
    def files(self) -> int:
        return self.fastq_files + self.secondary_files

    @property
    def bytes(self) -> int:
        return self.fastq_bytes + self.secondary_bytes

    @property
    def not_restored_files(self) -> int:
        """Files that cannot be copied until restored (archived or still restoring)."""
        return self.archived_files + self.restoring_files


@dataclass(frozen=True)
class LibraryFastqBytes:
    """FASTQ bytes of one library (the library chart)."""

    library_id: str
    readable_bytes: int
    # Archived and not restored (or still restoring).
    archived_bytes: int

    @property
    def total_bytes(self) -> int:
        return self.readable_bytes + self.archived_bytes


@dataclass(frozen=True)
class RunFastqFiles:
    """FASTQ files of one instrument run (the run chart)."""

    instrument_run_id: str
    readable_files: int
    # Archived and not restored (or still restoring).
    archived_files: int

    @property
    def total_files(self) -> int:
        return self.readable_files + self.archived_files


@dataclass
class ReportContent:
    package_id: str
    package_name: str
    requested_by: str
    request_time: dt.datetime | None
    completion_time: dt.datetime | None
    expires_at: dt.datetime | None
    generated_at: dt.datetime
    data_types: list[str]
    request_items: list[tuple[str, str]]
    totals: Totals
    breakdowns: list[Breakdown]
    tables: list[Table]
    # For the charts, largest library first; runs by id.
    library_fastq_bytes: list[LibraryFastqBytes]
    run_files: list[RunFastqFiles]

    def table(self, key: str) -> Table:
        for table in self.tables:
            if table.key == key:
                return table
        raise KeyError(key)

    def breakdown(self, key: str) -> Breakdown:
        for breakdown in self.breakdowns:
            if breakdown.key == key:
                return breakdown
        raise KeyError(key)

    @property
    def html_name(self) -> str:
        return f"SummaryReport.{self.package_name}.html"

    @property
    def pdf_name(self) -> str:
        return f"SummaryReport.{self.package_name}.pdf"


# --- Helpers ------------------------------------------------------------------------------------


def archive_state(storage_class: str, restore_state: str) -> str:
    if storage_class not in s3.ARCHIVED_STORAGE_CLASSES:
        return ""
    if restore_state == "restored":
        return RESTORED
    if restore_state == "ongoing":
        return RESTORING
    return ARCHIVED


def compression_of(file_name: str) -> str:
    lower = file_name.lower()
    if lower.endswith(".ora"):
        return "ORA"
    if lower.endswith(".gz"):
        return "gzip"
    if lower.endswith(".bz2"):
        return "bzip2"
    if lower.endswith(".zst"):
        return "zstd"
    return "none"


def file_type_of(file_name: str) -> str:
    """`bam`, `bai`, `vcf.gz`, `tbi`, `html` ... (compression kept with the inner type)."""
    parts = file_name.lower().rsplit("/", 1)[-1].split(".")
    if len(parts) < 2:
        return ""
    if parts[-1] in {"gz", "bz2", "zst", "ora"} and len(parts) >= 3:
        return f"{parts[-2]}.{parts[-1]}"
    return parts[-1]


def _text(value: Any) -> str:
    """A snapshot value as one line of text (lists joined, None empty)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple | set):
        return ", ".join(_text(item) for item in value if item not in (None, ""))
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, dict):
        return ", ".join(f"{key}={_text(item)}" for key, item in value.items())
    return str(value)


def _list(value: Any) -> list[str]:
    if value in (None, ""):
        return []
    if isinstance(value, list | tuple | set):
        return [str(item) for item in value if item not in (None, "")]
    return [part.strip() for part in str(value).split(",") if part.strip()]


def _lookup(metadata: Mapping[str, Any], key: str) -> Any:
    for name in (key, *_METADATA_ALIASES.get(key, ())):
        for spelling in (name, snake_to_camel(name)):
            if spelling in metadata:
                return metadata[spelling]
    return None


def _known_metadata_spellings() -> set[str]:
    names: set[str] = set(_NOT_METADATA)
    for key, _label, _pdf in METADATA_FIELDS:
        for name in (key, *_METADATA_ALIASES.get(key, ())):
            names |= {name, snake_to_camel(name)}
    return names


@dataclass
class _Library:
    library_id: str
    metadata: dict[str, Any]

    # Cached: read once per library, used for each of its files.
    @functools.cached_property
    def sample_id(self) -> str:
        return _text(_lookup(self.metadata, "sample_id"))

    @functools.cached_property
    def subject_id(self) -> str:
        return _text(_lookup(self.metadata, "subject_id"))

    @functools.cached_property
    def projects(self) -> list[str]:
        return _list(_lookup(self.metadata, "project_ids"))


def _request_items(request: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The package request as (camelCase name, value) pairs; long id lists are shortened."""
    items = []
    for key, value in request.items():
        if value in (None, "", [], {}):
            continue
        if isinstance(value, list) and len(value) > 12:
            shown = ", ".join(_text(item) for item in value[:12])
            text = f"{shown} … and {len(value) - 12:,} more ({len(value):,} in all)"
        else:
            text = _text(value)
        items.append((snake_to_camel(str(key)), text))
    return items


# --- Builder ------------------------------------------------------------------------------------

_FILE_FIELDS = (
    "relative_path",
    "data_type",
    "size",
    "storage_class",
    "restore_state",
    "library_id",
    "instrument_run_id",
    "lane",
    "read_number",
    "portal_run_id",
    "workflow_name",
)


@dataclass
class _FrozenPackage:
    """The package's frozen rows: one query per table."""

    libraries: dict[str, _Library]
    analyses: list[PackageAnalysis]
    # Named rows of _FILE_FIELDS, by relative path.
    files: list[Any]

    @functools.cached_property
    def analysis_by_run(self) -> dict[str, PackageAnalysis]:
        return {analysis.portal_run_id: analysis for analysis in self.analyses}

    def library_for(self, library_id: str) -> _Library | None:
        """The library a file was frozen under; topups and reruns under their base library."""
        return self.libraries.get(library_id) or self.libraries.get(base_library_id(library_id))


def _frozen_package_load(package: Package) -> _FrozenPackage:
    return _FrozenPackage(
        libraries={
            row.library_id: _Library(row.library_id, dict(row.metadata or {}))
            for row in PackageLibrary.objects.filter(package=package).order_by("library_id")
        },
        analyses=list(
            PackageAnalysis.objects.filter(package=package).order_by(
                "workflow_name", "portal_run_id"
            )
        ),
        files=list(
            PackageFile.objects.filter(package=package)
            .order_by("relative_path")
            .values_list(*_FILE_FIELDS, named=True)
        ),
    )


@dataclass
class _LibraryFastqTally:
    files: int = 0
    readable_bytes: int = 0
    # Archived and not restored (or still restoring).
    archived_bytes: int = 0


@dataclass
class _FileCount:
    files: int = 0
    bytes: int = 0


@dataclass
class _RunTally:
    row: BreakdownRow
    library_ids: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class _RunPeople:
    """Whom a workflow run's outputs are about, as the secondary files table shows it."""

    library_ids: str
    subject_ids: str
    projects: list[str]


@dataclass
class _Tally:
    """The report's statistics and file tables, accumulated file by file, then run by run."""

    frozen: _FrozenPackage
    totals: Totals = field(default_factory=Totals)
    archived_by_class: Counter[str] = field(default_factory=Counter)
    by_type: dict[str, BreakdownRow] = field(
        default_factory=lambda: {
            DataType.FASTQ: BreakdownRow("FASTQ"),
            DataType.SECONDARY_ANALYSIS: BreakdownRow("Secondary analysis"),
        }
    )
    by_project: dict[str, BreakdownRow] = field(default_factory=dict)
    by_run: dict[str, _RunTally] = field(default_factory=dict)
    by_workflow: dict[str, BreakdownRow] = field(default_factory=dict)
    library_fastqs: defaultdict[str, _LibraryFastqTally] = field(
        default_factory=lambda: defaultdict(_LibraryFastqTally)
    )
    analysis_files: defaultdict[str, _FileCount] = field(
        default_factory=lambda: defaultdict(_FileCount)
    )
    analyses_per_library: Counter[str] = field(default_factory=Counter)
    fastq_table: Table = field(default_factory=lambda: _fastq_table())
    files_table: Table = field(default_factory=lambda: _secondary_files_table())
    analyses_table: Table = field(default_factory=lambda: _analyses_table())
    _people: dict[tuple[str, str], _RunPeople] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.totals.libraries = len(self.frozen.libraries)
        self.totals.analyses = len(self.frozen.analyses)

    def add_file(self, file: Any) -> None:
        state = archive_state(file.storage_class, file.restore_state)
        not_readable = state in (ARCHIVED, RESTORING)
        self._count_archive_state(file, state, not_readable)
        type_row = self.by_type.setdefault(file.data_type, BreakdownRow(str(file.data_type)))
        _count(type_row, file.size, not_readable)
        file_name = file.relative_path.rsplit("/", 1)[-1]
        if file.data_type == DataType.FASTQ:
            self._add_fastq(file, file_name, state, not_readable)
        else:
            self._add_secondary_file(file, file_name, state, not_readable)

    def _count_archive_state(self, file: Any, state: str, not_readable: bool) -> None:
        if state == ARCHIVED:
            self.totals.archived_files += 1
        elif state == RESTORING:
            self.totals.restoring_files += 1
        elif state == RESTORED:
            self.totals.restored_files += 1
        if not_readable:
            self.totals.archived_bytes += file.size
            self.archived_by_class[file.storage_class] += 1

    def _add_fastq(self, file: Any, file_name: str, state: str, not_readable: bool) -> None:
        self.totals.fastq_files += 1
        self.totals.fastq_bytes += file.size
        self.totals.archived_fastq_files += not_readable
        library = self.frozen.library_for(file.library_id)
        projects = library.projects if library else []
        self.fastq_table.rows.append(
            [
                file.library_id,
                library.sample_id if library else "",
                library.subject_id if library else "",
                ", ".join(projects),
                file.instrument_run_id,
                file.lane,
                f"R{file.read_number}" if file.read_number else "",
                file_name,
                compression_of(file_name),
                file.size,
                file.size,
                file.relative_path,
                file.storage_class,
                state,
            ]
        )
        library_fastqs = self.library_fastqs[file.library_id]
        library_fastqs.files += 1
        if not_readable:
            library_fastqs.archived_bytes += file.size
        else:
            library_fastqs.readable_bytes += file.size
        run_id = file.instrument_run_id or "(no run)"
        run = self.by_run.setdefault(run_id, _RunTally(BreakdownRow(run_id)))
        _count(run.row, file.size, not_readable)
        run.library_ids.add(file.library_id)
        self._add_to_projects(projects or [NO_PROJECT], file.size, not_readable)

    def _add_secondary_file(
        self, file: Any, file_name: str, state: str, not_readable: bool
    ) -> None:
        self.totals.secondary_files += 1
        self.totals.secondary_bytes += file.size
        self.totals.archived_secondary_files += not_readable
        analysis = self.frozen.analysis_by_run.get(file.portal_run_id)
        workflow = file.workflow_name or (analysis.workflow_name if analysis else "")
        people = self._run_people(file.portal_run_id, file.library_id)
        self.files_table.rows.append(
            [
                workflow,
                file.portal_run_id,
                people.library_ids,
                people.subject_ids,
                file_name,
                file_type_of(file_name),
                file.size,
                file.size,
                file.relative_path,
                file.storage_class,
                state,
            ]
        )
        counts = self.analysis_files[file.portal_run_id]
        counts.files += 1
        counts.bytes += file.size
        workflow_key = workflow or "(unknown)"
        workflow_row = self.by_workflow.setdefault(workflow_key, BreakdownRow(workflow_key, runs=0))
        _count(workflow_row, file.size, not_readable)
        self._add_to_projects(people.projects or [NO_PROJECT], file.size, not_readable)

    def _add_to_projects(self, projects: Iterable[str], size: int, not_readable: bool) -> None:
        for project in projects:
            _count(self.by_project.setdefault(project, BreakdownRow(project)), size, not_readable)

    def _run_people(self, portal_run_id: str, library_id: str) -> _RunPeople:
        """Computed once per workflow run (and library, for files frozen without a run)."""
        cached = self._people.get((portal_run_id, library_id))
        if cached is None:
            analysis = self.frozen.analysis_by_run.get(portal_run_id)
            run_libraries = [str(item) for item in (analysis.library_ids if analysis else [])]
            run_libraries = run_libraries or ([library_id] if library_id else [])
            projects = sorted(
                {
                    project
                    for item in run_libraries
                    for project in (_projects_of(self.frozen.library_for(item)) or [NO_PROJECT])
                }
            )
            cached = _RunPeople(
                library_ids=", ".join(run_libraries),
                subject_ids=", ".join(_subjects(run_libraries, self.frozen.library_for)),
                projects=projects or [NO_PROJECT],
            )
            self._people[(portal_run_id, library_id)] = cached
        return cached

    def add_analysis(self, analysis: PackageAnalysis) -> None:
        """After every file: the run's row shows how many of its files the package holds."""
        library_ids = [str(item) for item in analysis.library_ids or []]
        self.analyses_per_library.update(library_ids)
        files = self.analysis_files.get(analysis.portal_run_id, _FileCount())
        self.analyses_table.rows.append(
            [
                analysis.workflow_name,
                analysis.portal_run_id,
                analysis.workflow_version,
                analysis.status,
                utc_text(analysis.start_time),
                utc_text(analysis.end_time),
                ", ".join(library_ids),
                ", ".join(_subjects(library_ids, self.frozen.library_for)),
                files.files,
                files.bytes,
                files.bytes,
            ]
        )
        workflow_row = self.by_workflow.setdefault(
            analysis.workflow_name, BreakdownRow(analysis.workflow_name, runs=0)
        )
        workflow_row.runs = (workflow_row.runs or 0) + 1


def _count(row: BreakdownRow, size: int, not_readable: bool) -> None:
    row.files += 1
    row.size += size
    row.archived_files += not_readable


def report_content_build(*, package: Package) -> ReportContent:
    """Everything the HTML and PDF reports show, from the package's frozen rows."""
    frozen = _frozen_package_load(package)
    tally = _Tally(frozen)
    for file in frozen.files:
        tally.add_file(file)
    for analysis in frozen.analyses:
        tally.add_analysis(analysis)
    tally.totals.archived_by_storage_class = dict(sorted(tally.archived_by_class.items()))
    run_rows = _run_rows(tally.by_run)
    request = dict(package.request or {})
    return ReportContent(
        package_id=package.id,
        package_name=package.package_name,
        requested_by=package.requested_by.get_username() if package.requested_by else "",
        request_time=package.request_time,
        completion_time=package.completion_time,
        expires_at=package.expires_at,
        generated_at=timezone.now(),
        data_types=[str(item) for item in _list(request.get("data_type_list"))],
        request_items=_request_items(request),
        totals=tally.totals,
        breakdowns=_breakdowns(tally, run_rows),
        tables=[
            _metadata_table_with_counts(tally),
            tally.fastq_table,
            tally.analyses_table,
            tally.files_table,
        ],
        library_fastq_bytes=sorted(
            (
                LibraryFastqBytes(library_id, stats.readable_bytes, stats.archived_bytes)
                for library_id, stats in tally.library_fastqs.items()
            ),
            key=lambda library: (-library.total_bytes, library.library_id),
        ),
        run_files=[
            RunFastqFiles(row.label, row.files - row.archived_files, row.archived_files)
            for row in run_rows
        ],
    )


def _metadata_table_with_counts(tally: _Tally) -> Table:
    """The metadata table, each library with its FASTQ files and bytes and its analyses."""
    libraries = tally.frozen.libraries
    # Topup / rerun FASTQs may be frozen under their own id; count them with their base library.
    fastqs_per_library: defaultdict[str, _FileCount] = defaultdict(_FileCount)
    for library_id, stats in tally.library_fastqs.items():
        owner = fastqs_per_library[
            library_id if library_id in libraries else base_library_id(library_id)
        ]
        owner.files += stats.files
        owner.bytes += stats.readable_bytes + stats.archived_bytes
    table = _metadata_table(libraries.values())
    for row, library in zip(table.rows, libraries.values(), strict=True):
        fastqs = fastqs_per_library.get(library.library_id, _FileCount())
        row.extend(
            [
                fastqs.files,
                fastqs.bytes,
                fastqs.bytes,
                tally.analyses_per_library.get(library.library_id, 0),
            ]
        )
    return table


def _run_rows(by_run: dict[str, _RunTally]) -> list[BreakdownRow]:
    rows = []
    for run_id in sorted(by_run):
        run = by_run[run_id]
        run.row.libraries = len(run.library_ids)
        rows.append(run.row)
    return rows


def _project_rows(tally: _Tally) -> list[BreakdownRow]:
    """Every project with files or libraries; libraries counted from the metadata snapshot."""
    project_libraries: defaultdict[str, set[str]] = defaultdict(set)
    for library in tally.frozen.libraries.values():
        for project in library.projects or [NO_PROJECT]:
            project_libraries[project].add(library.library_id)
    rows: list[BreakdownRow] = []
    for project in sorted(set(tally.by_project) | set(project_libraries)):
        row = tally.by_project.get(project) or BreakdownRow(project)
        row.libraries = len(project_libraries.get(project, ()))
        rows.append(row)
    return rows


def _breakdowns(tally: _Tally, run_rows: list[BreakdownRow]) -> list[Breakdown]:
    in_several_projects = any(
        len(library.projects) > 1 for library in tally.frozen.libraries.values()
    )
    return [
        Breakdown(
            "data_type",
            "By data type",
            "Data type",
            [row for row in tally.by_type.values() if row.files],
        ),
        Breakdown(
            "project",
            "By project",
            "Project",
            _project_rows(tally),
            count_header="Libraries",
            note="A file of a library in several projects counts in each of them."
            if in_several_projects
            else "",
        ),
        Breakdown(
            "run",
            "By instrument run (FASTQs)",
            "Instrument run",
            run_rows,
            count_header="Libraries",
        ),
        Breakdown(
            "workflow",
            "By workflow (secondary analyses)",
            "Workflow",
            [tally.by_workflow[name] for name in sorted(tally.by_workflow)],
            count_header="Runs",
        ),
    ]


def _projects_of(library: _Library | None) -> list[str]:
    return library.projects if library else []


def _subjects(
    library_ids: Iterable[str], library_for: Callable[[str], _Library | None]
) -> list[str]:
    subjects: dict[str, None] = {}
    for library_id in library_ids:
        library = library_for(library_id)
        if library and library.subject_id:
            subjects[library.subject_id] = None
    return list(subjects)


def _metadata_table(libraries: Iterable[_Library]) -> Table:
    libraries = list(libraries)
    known = _known_metadata_spellings()
    extra_keys = sorted({key for lib in libraries for key in lib.metadata if key not in known})
    columns = [
        Column("library_id", "Library"),
        *(Column(key, label, in_pdf=pdf) for key, label, pdf in METADATA_FIELDS),
        *(Column(f"extra:{key}", key, in_pdf=False) for key in extra_keys),
        Column("fastq_files", "FASTQ files", "int"),
        Column("fastq_size", "FASTQ size", "bytes"),
        Column("fastq_bytes", "FASTQ bytes", "int", in_pdf=False),
        Column("analyses", "Analyses", "int"),
    ]
    table = Table(
        key="metadata",
        title="Metadata",
        noun="library",
        columns=tuple(columns),
        description="One row per library, with its LIMS metadata as frozen when the package was made.",
    )
    for library in libraries:
        table.rows.append(
            [
                library.library_id,
                *(_text(_lookup(library.metadata, key)) for key, _label, _pdf in METADATA_FIELDS),
                *(_text(library.metadata.get(key)) for key in extra_keys),
            ]
        )
    return table


def _fastq_table() -> Table:
    return Table(
        key="fastqs",
        title="FASTQs",
        noun="file",
        archive_column="archive_state",
        description="One row per FASTQ file (each lane of a library has an R1 and usually an R2 file).",
        columns=(
            Column("library_id", "Library"),
            Column("sample_id", "Sample"),
            Column("subject_id", "Subject"),
            Column("project", "Project"),
            Column("instrument_run_id", "Instrument run"),
            Column("lane", "Lane", "int"),
            Column("read", "Read"),
            Column("file_name", "File name", "path", in_pdf=False),
            Column("compression", "Compression"),
            Column("size", "Size", "bytes"),
            Column("bytes", "Bytes", "int"),
            Column("relative_path", "Relative path", "path"),
            Column("storage_class", "Storage class"),
            Column("archive_state", "Archive", "state"),
        ),
    )


def _analyses_table() -> Table:
    return Table(
        key="analyses",
        title="Secondary analyses",
        noun="workflow run",
        description="One row per workflow run (portal run id) whose outputs are in the package.",
        columns=(
            Column("workflow_name", "Workflow"),
            Column("portal_run_id", "Portal run id"),
            Column("workflow_version", "Version"),
            Column("status", "Status", "status"),
            Column("start_time", "Started", "datetime"),
            Column("end_time", "Ended", "datetime", in_pdf=False),
            Column("library_ids", "Libraries"),
            Column("subject_ids", "Subjects"),
            Column("files", "Files", "int"),
            Column("size", "Size", "bytes"),
            Column("bytes", "Bytes", "int"),
        ),
    )


def _secondary_files_table() -> Table:
    return Table(
        key="files",
        title="Secondary files",
        noun="file",
        archive_column="archive_state",
        description="One row per secondary-analysis output file.",
        columns=(
            Column("workflow_name", "Workflow"),
            Column("portal_run_id", "Portal run id"),
            Column("library_ids", "Libraries"),
            Column("subject_ids", "Subjects", in_pdf=False),
            Column("file_name", "File name", "path", in_pdf=False),
            Column("file_type", "Type"),
            Column("size", "Size", "bytes"),
            Column("bytes", "Bytes", "int"),
            Column("relative_path", "Relative path", "path"),
            Column("storage_class", "Storage class"),
            Column("archive_state", "Archive", "state"),
        ),
    )
