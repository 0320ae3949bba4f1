"""What the report shows, built from a package's frozen contents only.

Reads Package, PackageLibrary (the metadata snapshot), PackageAnalysis and PackageFile; never the
live catalog, so the report describes exactly what will be shared even if the LIMS changes later.
A constant number of queries whatever the package size (one per table).
"""

from __future__ import annotations

import datetime as dt
import functools
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
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
    # FASTQ bytes per library, for the chart: (library id, readable bytes, archived bytes).
    library_fastq_bytes: list[tuple[str, int, int]]
    # Files per instrument run, for the chart: (run id, readable files, archived files).
    run_files: list[tuple[str, int, int]]

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


def report_content_build(*, package: Package) -> ReportContent:
    """Everything the HTML and PDF reports show, from the package's frozen rows."""
    libraries = {
        row.library_id: _Library(row.library_id, dict(row.metadata or {}))
        for row in PackageLibrary.objects.filter(package=package).order_by("library_id")
    }
    analyses = list(
        PackageAnalysis.objects.filter(package=package).order_by("workflow_name", "portal_run_id")
    )
    files = list(
        PackageFile.objects.filter(package=package)
        .order_by("relative_path")
        .values_list(*_FILE_FIELDS)
    )

    def library_for(library_id: str) -> _Library | None:
        return libraries.get(library_id) or libraries.get(base_library_id(library_id))

    analysis_by_run = {analysis.portal_run_id: analysis for analysis in analyses}
    totals = Totals(libraries=len(libraries), analyses=len(analyses))
    archived_by_class: Counter[str] = Counter()

    fastq_table = _fastq_table()
    files_table = _secondary_files_table()
    # Per library: FASTQ files, readable bytes, archived (not restored) bytes.
    library_fastq: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    run_stats: dict[str, dict[str, Any]] = {}
    project_stats: dict[str, BreakdownRow] = {}
    project_libraries: dict[str, set[str]] = defaultdict(set)
    workflow_stats: dict[str, BreakdownRow] = {}
    analysis_files: dict[str, list[int]] = defaultdict(lambda: [0, 0])  # files, bytes
    type_stats = {
        DataType.FASTQ: BreakdownRow("FASTQ"),
        DataType.SECONDARY_ANALYSIS: BreakdownRow("Secondary analysis"),
    }

    for library in libraries.values():
        for project in library.projects or [NO_PROJECT]:
            project_libraries[project].add(library.library_id)

    people_cache: dict[tuple[str, str], tuple[str, str, list[str]]] = {}

    def analysis_people(portal_run_id: str, library_id: str) -> tuple[str, str, list[str]]:
        """(libraries, subjects, projects) of a workflow run, computed once per run."""
        cached = people_cache.get((portal_run_id, library_id))
        if cached is None:
            analysis = analysis_by_run.get(portal_run_id)
            run_libraries = [str(item) for item in (analysis.library_ids if analysis else [])]
            run_libraries = run_libraries or ([library_id] if library_id else [])
            projects = sorted(
                {
                    project
                    for item in run_libraries
                    for project in (_projects_of(library_for(item)) or [NO_PROJECT])
                }
            )
            cached = (
                ", ".join(run_libraries),
                ", ".join(_subjects(run_libraries, library_for)),
                projects or [NO_PROJECT],
            )
            people_cache[(portal_run_id, library_id)] = cached
        return cached

    def add_to_projects(projects: Iterable[str], size: int, archived: bool) -> None:
        for project in projects:
            row = project_stats.setdefault(project, BreakdownRow(project))
            row.files += 1
            row.size += size
            row.archived_files += archived

    for (
        relative_path,
        data_type,
        size,
        storage_class,
        restore_state,
        library_id,
        instrument_run_id,
        lane,
        read_number,
        portal_run_id,
        workflow_name,
    ) in files:
        state = archive_state(storage_class, restore_state)
        not_readable = state in (ARCHIVED, RESTORING)
        if state == ARCHIVED:
            totals.archived_files += 1
        elif state == RESTORING:
            totals.restoring_files += 1
        elif state == RESTORED:
            totals.restored_files += 1
        if not_readable:
            totals.archived_bytes += size
            archived_by_class[storage_class] += 1
        type_row = type_stats.get(data_type) or type_stats.setdefault(
            data_type, BreakdownRow(str(data_type))
        )
        type_row.files += 1
        type_row.size += size
        type_row.archived_files += not_readable
        file_name = relative_path.rsplit("/", 1)[-1]

        if data_type == DataType.FASTQ:
            totals.fastq_files += 1
            totals.fastq_bytes += size
            totals.archived_fastq_files += not_readable
            fastq_library = library_for(library_id)
            projects = fastq_library.projects if fastq_library else []
            fastq_table.rows.append(
                [
                    library_id,
                    fastq_library.sample_id if fastq_library else "",
                    fastq_library.subject_id if fastq_library else "",
                    ", ".join(projects),
                    instrument_run_id,
                    lane,
                    f"R{read_number}" if read_number else "",
                    file_name,
                    compression_of(file_name),
                    size,
                    size,
                    relative_path,
                    storage_class,
                    state,
                ]
            )
            stats = library_fastq[library_id]
            stats[0] += 1
            if not_readable:
                stats[2] += size
            else:
                stats[1] += size
            run = run_stats.setdefault(
                instrument_run_id or "(no run)",
                {"row": BreakdownRow(instrument_run_id or "(no run)"), "libraries": set()},
            )
            run["row"].files += 1
            run["row"].size += size
            run["row"].archived_files += not_readable
            run["libraries"].add(library_id)
            add_to_projects(projects or [NO_PROJECT], size, not_readable)
        else:
            totals.secondary_files += 1
            totals.secondary_bytes += size
            totals.archived_secondary_files += not_readable
            analysis = analysis_by_run.get(portal_run_id)
            workflow = workflow_name or (analysis.workflow_name if analysis else "")
            run_libraries, run_subjects, projects = analysis_people(portal_run_id, library_id)
            files_table.rows.append(
                [
                    workflow,
                    portal_run_id,
                    run_libraries,
                    run_subjects,
                    file_name,
                    file_type_of(file_name),
                    size,
                    size,
                    relative_path,
                    storage_class,
                    state,
                ]
            )
            counts = analysis_files[portal_run_id]
            counts[0] += 1
            counts[1] += size
            workflow_row = workflow_stats.setdefault(
                workflow or "(unknown)", BreakdownRow(workflow or "(unknown)", runs=0)
            )
            workflow_row.files += 1
            workflow_row.size += size
            workflow_row.archived_files += not_readable
            add_to_projects(projects or [NO_PROJECT], size, not_readable)

    totals.archived_by_storage_class = dict(sorted(archived_by_class.items()))

    analyses_table = _analyses_table()
    analyses_per_library: Counter[str] = Counter()
    for analysis in analyses:
        library_ids = [str(item) for item in analysis.library_ids or []]
        for library_id in library_ids:
            analyses_per_library[library_id] += 1
        count, size = analysis_files.get(analysis.portal_run_id, [0, 0])
        analyses_table.rows.append(
            [
                analysis.workflow_name,
                analysis.portal_run_id,
                analysis.workflow_version,
                analysis.status,
                utc_text(analysis.start_time),
                utc_text(analysis.end_time),
                ", ".join(library_ids),
                ", ".join(_subjects(library_ids, library_for)),
                count,
                size,
                size,
            ]
        )
        workflow_row = workflow_stats.setdefault(
            analysis.workflow_name, BreakdownRow(analysis.workflow_name, runs=0)
        )
        workflow_row.runs = (workflow_row.runs or 0) + 1

    # Topup / rerun FASTQs may be frozen under their own id; count them with their base library.
    fastq_per_library: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for library_id, stats in library_fastq.items():
        owner = library_id if library_id in libraries else base_library_id(library_id)
        fastq_per_library[owner][0] += stats[0]
        fastq_per_library[owner][1] += stats[1] + stats[2]
    metadata_table = _metadata_table(libraries.values())
    for metadata_row, library in zip(metadata_table.rows, libraries.values(), strict=True):
        files_count, size = fastq_per_library.get(library.library_id, [0, 0])
        metadata_row.extend(
            [files_count, size, size, analyses_per_library.get(library.library_id, 0)]
        )

    project_rows: list[BreakdownRow] = []
    for project in sorted(set(project_stats) | set(project_libraries)):
        project_row = project_stats.get(project) or BreakdownRow(project)
        project_row.libraries = len(project_libraries.get(project, ()))
        project_rows.append(project_row)
    run_rows: list[BreakdownRow] = []
    for run_id in sorted(run_stats):
        run_row: BreakdownRow = run_stats[run_id]["row"]
        run_row.libraries = len(run_stats[run_id]["libraries"])
        run_rows.append(run_row)

    breakdowns = [
        Breakdown(
            "data_type", "By data type", "Data type", [r for r in type_stats.values() if r.files]
        ),
        Breakdown(
            "project",
            "By project",
            "Project",
            project_rows,
            count_header="Libraries",
            note="A file of a library in several projects counts in each of them."
            if any(len(lib.projects) > 1 for lib in libraries.values())
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
            [workflow_stats[name] for name in sorted(workflow_stats)],
            count_header="Runs",
        ),
    ]

    requested_by = package.requested_by.get_username() if package.requested_by else ""
    request = dict(package.request or {})
    data_types = [str(item) for item in _list(request.get("data_type_list"))]
    return ReportContent(
        package_id=package.id,
        package_name=package.package_name,
        requested_by=requested_by,
        request_time=package.request_time,
        completion_time=package.completion_time,
        expires_at=package.expires_at,
        generated_at=timezone.now(),
        data_types=data_types,
        request_items=_request_items(request),
        totals=totals,
        breakdowns=breakdowns,
        tables=[metadata_table, fastq_table, analyses_table, files_table],
        library_fastq_bytes=sorted(
            ((library_id, stats[1], stats[2]) for library_id, stats in library_fastq.items()),
            key=lambda item: (-(item[1] + item[2]), item[0]),
        ),
        run_files=[
            (row.label, row.files - row.archived_files, row.archived_files) for row in run_rows
        ],
    )


def _projects_of(library: _Library | None) -> list[str]:
    return library.projects if library else []


def _subjects(library_ids: Iterable[str], library_for: Any) -> list[str]:
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
