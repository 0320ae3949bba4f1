"""Resolution rules of SPEC §5: from a validated request to libraries, workflow runs and files.

Every step is a set-based query over the whole selection (a subquery of the selected libraries,
never one query per library or run), so the number of queries does not depend on how many
libraries a request selects; only very large selections add a query per batch of rows.

- `package_selection_check` runs when a package is created (and again when it is resolved):
  unknown ids, portal runs that are not the selected libraries', failed runs asked for by id.
- `package_contents_resolve` computes what the package contains: library metadata snapshots,
  FASTQs, the latest successful (or requested) workflow runs and the files under their output
  prefixes, with the relative paths the recipient will see. Duplicate paths are an error, and so
  is any file outside the allowed catalogue sources or with a control or formatting character in
  its name (catalogued before those checks existed, or before a source was removed): the
  package would carry it out, so the error names them.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from data_sharing_formats.identifiers import base_library_id
from django.conf import settings
from django.db.models import Q, QuerySet

from catalog_app.importers.storage import catalog_sync_prefixes, prefix_query_chunk
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
from catalog_app.sources.names import unsafe_name_problem
from catalog_app.sources.policy import SourcePolicy, source_policy_load
from datasharing import s3
from datasharing.errors import DomainError
from packages_app.models import DataType
from packages_app.package_request import NO_PREFIX, PackageRequest, camel
from packages_app.workflow_filters.matching import FilterSet, file_is_shared, filter_set_load

logger = logging.getLogger(__name__)

MAX_LISTED_IN_ERRORS = 20
# Output prefixes listed (and catalogued) per batch; abort is checked between batches.
LISTING_BATCH = 1000


def _listing(values: Iterable[str], limit: int = MAX_LISTED_IN_ERRORS) -> str:
    items = sorted(values)
    shown = ", ".join(items[:limit])
    return shown + (f" (and {len(items) - limit} more)" if len(items) > limit else "")


def _join(*parts: str) -> str:
    return "/".join(part for part in parts if part and part != NO_PREFIX)


# --- Selection (checked at create time) ---------------------------------------------------------


@dataclass
class Selection:
    """The catalog rows a request selects (primary keys)."""

    # The selected libraries as a lazy query, used as a subquery so that no query carries a
    # list of every selected library.
    libraries: QuerySet[Library]
    instrument_run_pks: list[int] | None
    # Requested portal runs (after the exclusion list), or None for "latest successful".
    explicit_run_pks: list[int] | None
    excluded_run_pks: set[int]
    workflow_names: list[str] | None

    def library_subquery(self) -> QuerySet[Library, Any]:
        return self.libraries.values("pk")


def _known_workflow_names(names: list[str], filters: FilterSet) -> set[str]:
    known = set(
        WorkflowRun.objects.filter(workflow_name__in=names)
        .values_list("workflow_name", flat=True)
        .distinct()
    )
    return known | {name for name in names if filters.knows(name)}


def package_selection_check(*, request: PackageRequest) -> Selection:
    """Resolve the request's ids against the catalog; a 400 DomainError lists every unknown id and
    every portal run that does not belong to the selected libraries."""
    unknown: dict[str, list[str]] = {}
    library_filter = _library_filter(request, unknown)
    run_pks = _instrument_run_pks(request, unknown)
    runs_by_portal_id = _portal_runs(request, unknown)
    _check_workflow_names(request, unknown)
    if unknown:
        raise DomainError(
            "Unknown ids in the request: "
            + "; ".join(f"{camel(name)}: {_listing(ids)}" for name, ids in unknown.items())
            + ".",
            details={"unknown": {camel(name): sorted(ids) for name, ids in unknown.items()}},
        )
    libraries = _selected_libraries(request, library_filter, run_pks)
    excluded = {
        runs_by_portal_id[i].pk
        for i in request.portal_run_id_exclusion_list or []
        if i in runs_by_portal_id
    }
    return Selection(
        libraries=libraries,
        instrument_run_pks=run_pks,
        explicit_run_pks=_explicit_run_pks(request, runs_by_portal_id, excluded, libraries),
        excluded_run_pks=excluded,
        workflow_names=request.secondary_analysis_type_list,
    )


def _library_filter(request: PackageRequest, unknown: dict[str, list[str]]) -> Q | None:
    """The libraries the request's metadata list selects (None: no such list); ids the catalog
    does not know go to `unknown`."""
    if request.library_id_list:
        bases = {base_library_id(i): i for i in request.library_id_list}
        found = set(
            Library.objects.filter(library_id__in=list(bases)).values_list("library_id", flat=True)
        )
        _record_missing(
            unknown,
            "library_id_list",
            [written for base, written in bases.items() if base not in found],
        )
        return Q(library_id__in=list(found))
    if request.subject_id_list:
        ids = request.subject_id_list
        rows = list(
            Subject.objects.filter(
                Q(internal_subject_id__in=ids) | Q(external_subject_id__in=ids)
            ).values_list("pk", "internal_subject_id", "external_subject_id")
        )
        matched = {internal for _, internal, _ in rows} | {external for _, _, external in rows}
        _record_missing(unknown, "subject_id_list", [i for i in ids if i not in matched])
        return Q(subject_id__in=[pk for pk, _, _ in rows])
    if request.individual_id_list:
        ids = request.individual_id_list
        individuals = dict(
            Individual.objects.filter(individual_id__in=ids).values_list("individual_id", "pk")
        )
        _record_missing(unknown, "individual_id_list", [i for i in ids if i not in individuals])
        return Q(subject__individual_id__in=list(individuals.values()))
    if request.project_id_list:
        ids = request.project_id_list
        projects = dict(Project.objects.filter(project_id__in=ids).values_list("project_id", "pk"))
        _record_missing(unknown, "project_id_list", [i for i in ids if i not in projects])
        return Q(projects__in=list(projects.values()))
    return None


def _record_missing(unknown: dict[str, list[str]], name: str, missing: list[str]) -> None:
    if missing:
        unknown[name] = missing


def _instrument_run_pks(request: PackageRequest, unknown: dict[str, list[str]]) -> list[int] | None:
    if not request.instrument_run_id_list:
        return None
    runs = dict(
        SequencingRun.objects.filter(
            instrument_run_id__in=request.instrument_run_id_list
        ).values_list("instrument_run_id", "pk")
    )
    _record_missing(
        unknown,
        "instrument_run_id_list",
        [i for i in request.instrument_run_id_list if i not in runs],
    )
    return list(runs.values())


@dataclass(frozen=True)
class _PortalRun:
    pk: int
    status: str


def _portal_runs(request: PackageRequest, unknown: dict[str, list[str]]) -> dict[str, _PortalRun]:
    """The workflow runs the request names (to package or to exclude), by portal run id."""
    portal_ids = set(request.portal_run_id_list or []) | set(
        request.portal_run_id_exclusion_list or []
    )
    if not portal_ids:
        return {}
    runs = {
        portal_run_id: _PortalRun(pk, status)
        for pk, portal_run_id, status in WorkflowRun.objects.filter(
            portal_run_id__in=portal_ids
        ).values_list("pk", "portal_run_id", "status")
    }
    for name in ("portal_run_id_list", "portal_run_id_exclusion_list"):
        _record_missing(unknown, name, [i for i in getattr(request, name) or [] if i not in runs])
    return runs


def _check_workflow_names(request: PackageRequest, unknown: dict[str, list[str]]) -> None:
    workflow_names = request.secondary_analysis_type_list
    if workflow_names:
        known = _known_workflow_names(workflow_names, filter_set_load(include_disabled=True))
        _record_missing(
            unknown, "secondary_analysis_type_list", [n for n in workflow_names if n not in known]
        )


def _selected_libraries(
    request: PackageRequest, library_filter: Q | None, run_pks: list[int] | None
) -> QuerySet[Library]:
    """The selected libraries as a lazy query; a 400 DomainError when there are none."""
    libraries = Library.objects.all()
    if library_filter is not None:
        libraries = libraries.filter(library_filter)
    if run_pks is not None:
        # Restricted to (or, alone, every library with) FASTQs on those runs.
        libraries = libraries.filter(
            pk__in=Fastq.objects.filter(run_id__in=run_pks).values("library_id")
        )
    if not libraries.exists():
        what = (
            f"{camel(request.metadata_list[0])} {_listing(request.metadata_list[1])}"
            if request.metadata_list
            else "the request"
        )
        on_runs = (
            f" with FASTQs on {_listing(request.instrument_run_id_list)}"
            if request.instrument_run_id_list
            else ""
        )
        raise DomainError(f"The request selects no libraries: {what} has no libraries{on_runs}.")
    return libraries


def _explicit_run_pks(
    request: PackageRequest,
    runs_by_portal_id: dict[str, _PortalRun],
    excluded: set[int],
    libraries: QuerySet[Library],
) -> list[int] | None:
    """The requested portal runs not excluded (None: none requested, the latest successful ones
    are packaged); each must be successful and belong to a selected library."""
    if not request.portal_run_id_list:
        return None
    wanted = {
        i: runs_by_portal_id[i]
        for i in request.portal_run_id_list
        if runs_by_portal_id[i].pk not in excluded
    }
    through = WorkflowRun.libraries.through
    owned = set(
        through.objects.filter(
            workflowrun_id__in=[run.pk for run in wanted.values()],
            library_id__in=libraries.values("pk"),
        ).values_list("workflowrun_id", flat=True)
    )
    foreign = [i for i, run in wanted.items() if run.pk not in owned]
    if foreign:
        raise DomainError(
            "portalRunIdList: these workflow runs do not belong to any of the selected "
            f"libraries: {_listing(foreign)}.",
            details={"portalRunsNotOfSelectedLibraries": sorted(foreign)},
        )
    failed = [
        f"{i} ({run.status})"
        for i, run in wanted.items()
        if run.status.upper() not in WorkflowRun.SUCCESS_STATUSES
    ]
    if failed:
        raise DomainError(
            "portalRunIdList: only successful workflow runs can be packaged; not successful: "
            f"{_listing(failed)}.",
            details={"unsuccessfulPortalRuns": sorted(failed)},
        )
    return sorted(run.pk for run in wanted.values())


# --- Contents -----------------------------------------------------------------------------------


@dataclass
class ResolvedLibrary:
    library_pk: int
    library_id: str
    metadata: dict[str, Any]


@dataclass
class ResolvedAnalysis:
    workflow_run_pk: int
    portal_run_id: str
    workflow_name: str
    workflow_version: str
    status: str
    start_time: datetime | None
    end_time: datetime | None
    output_uri: str
    library_ids: list[str]


@dataclass
class ResolvedFile:
    relative_path: str
    data_type: str
    source_bucket: str
    source_key: str
    size: int
    etag: str
    md5: str
    sha256: str
    storage_class: str
    restore_state: str
    stored_object_pk: int
    library_pk: int | None = None
    fastq_pk: int | None = None
    workflow_run_pk: int | None = None
    library_id: str = ""
    instrument_run_id: str = ""
    lane: int | None = None
    read_number: int | None = None
    portal_run_id: str = ""
    workflow_name: str = ""

    @property
    def source_uri(self) -> str:
        return f"s3://{self.source_bucket}/{self.source_key}"

    @property
    def is_archived(self) -> bool:
        return self.storage_class in s3.ARCHIVED_STORAGE_CLASSES

    @property
    def needs_restore(self) -> bool:
        return self.is_archived and self.restore_state != "restored"


@dataclass
class Resolution:
    libraries: list[ResolvedLibrary] = field(default_factory=list)
    analyses: list[ResolvedAnalysis] = field(default_factory=list)
    files: list[ResolvedFile] = field(default_factory=list)
    fastq_count: int = 0

    @property
    def total_bytes(self) -> int:
        return sum(f.size for f in self.files)

    def summary(self) -> dict[str, Any]:
        """Counts and sizes (the dry run's answer and the package's counters)."""
        by_type: dict[str, dict[str, int]] = {}
        for data_type in DataType:
            files = [f for f in self.files if f.data_type == data_type]
            by_type[data_type.value] = {
                "file_count": len(files),
                "total_bytes": sum(f.size for f in files),
                "archived_file_count": sum(1 for f in files if f.is_archived),
            }
        by_workflow: dict[str, dict[str, int]] = {}
        for analysis in self.analyses:
            entry = by_workflow.setdefault(
                analysis.workflow_name, {"run_count": 0, "file_count": 0, "total_bytes": 0}
            )
            entry["run_count"] += 1
        for f in self.files:
            if f.workflow_name:
                by_workflow[f.workflow_name]["file_count"] += 1
                by_workflow[f.workflow_name]["total_bytes"] += f.size
        archived = [f for f in self.files if f.is_archived]
        return {
            "library_count": len(self.libraries),
            "fastq_count": self.fastq_count,
            "workflow_run_count": len(self.analyses),
            "file_count": len(self.files),
            "total_bytes": self.total_bytes,
            "archived_file_count": len(archived),
            "archived_bytes": sum(f.size for f in archived),
            "unrestored_file_count": sum(1 for f in archived if f.needs_restore),
            "by_data_type": by_type,
            "by_workflow": dict(sorted(by_workflow.items())),
        }


def _library_snapshots(selection: Selection) -> list[ResolvedLibrary]:
    """Library metadata as it is now (three queries whatever the number of libraries)."""
    libraries = list(
        Library.objects.filter(pk__in=selection.library_subquery())
        .select_related("subject", "subject__individual")
        .order_by("library_id")
    )
    projects: dict[int, list[tuple[str, str]]] = defaultdict(list)
    for library_pk, project_id, owner_id in Library.projects.through.objects.filter(
        library_id__in=selection.library_subquery()
    ).values_list("library_id", "project__project_id", "project__owner_id"):
        projects[library_pk].append((project_id, owner_id))
    runs: dict[int, set[str]] = defaultdict(set)
    written: dict[int, set[str]] = defaultdict(set)
    for library_pk, run_id, source_id in LibraryRun.objects.filter(
        library_id__in=selection.library_subquery()
    ).values_list("library_id", "run__instrument_run_id", "source_library_id"):
        runs[library_pk].add(run_id)
        written[library_pk].add(source_id)
    snapshots = []
    for lib in libraries:
        subject = lib.subject
        individual = subject.individual if subject else None
        snapshots.append(
            ResolvedLibrary(
                library_pk=lib.pk,
                library_id=lib.library_id,
                metadata={
                    "library_id": lib.library_id,
                    "library_ids_sequenced": sorted(written[lib.pk] | {lib.library_id}),
                    "sample_id": lib.sample_id,
                    "external_sample_id": lib.external_sample_id,
                    "subject_id": subject.internal_subject_id if subject else "",
                    "external_subject_id": subject.external_subject_id if subject else "",
                    "individual_id": individual.individual_id if individual else "",
                    "project_ids": sorted(p for p, _ in projects[lib.pk]),
                    "owner_ids": sorted({o for _, o in projects[lib.pk] if o}),
                    "instrument_run_ids": sorted(runs[lib.pk]),
                    "experiment_id": lib.experiment_id,
                    "phenotype": lib.phenotype,
                    "type": lib.type,
                    "assay": lib.assay,
                    "workflow": lib.workflow,
                    "quality": lib.quality,
                    "source": lib.source,
                    "coverage": lib.coverage,
                    "truseq_index": lib.truseq_index,
                },
            )
        )
    return snapshots


def _object_file(obj: StoredObject, **fields: Any) -> ResolvedFile:
    return ResolvedFile(
        source_bucket=obj.bucket,
        source_key=obj.key,
        size=obj.size or 0,
        etag=obj.etag,
        md5=obj.md5,
        sha256=obj.sha256,
        storage_class=obj.storage_class,
        restore_state=obj.restore_state,
        stored_object_pk=obj.pk,
        **fields,
    )


def _fastq_files(request: PackageRequest, selection: Selection) -> tuple[int, list[ResolvedFile]]:
    fastqs = Fastq.objects.filter(library_id__in=selection.library_subquery())
    if selection.instrument_run_pks is not None:
        fastqs = fastqs.filter(run_id__in=selection.instrument_run_pks)
    fastqs = fastqs.select_related("library", "run", "read1", "read2").order_by(
        "run__instrument_run_id", "lane", "library__library_id", "pk"
    )
    files: list[ResolvedFile] = []
    unavailable: list[str] = []
    count = 0
    for fastq in fastqs:
        count += 1
        for read_number, obj in ((1, fastq.read1), (2, fastq.read2)):
            if obj is None:
                continue
            if obj.missing or obj.size is None:
                unavailable.append(obj.uri)
                continue
            files.append(
                _object_file(
                    obj,
                    relative_path=_join(
                        request.primary_data_path_prefix,
                        fastq.run.instrument_run_id,
                        f"Lane_{fastq.lane}",
                        fastq.library.library_id,
                        obj.file_name,
                    ),
                    data_type=DataType.FASTQ,
                    library_pk=fastq.library_id,
                    fastq_pk=fastq.pk,
                    library_id=fastq.library.library_id,
                    instrument_run_id=fastq.run.instrument_run_id,
                    lane=fastq.lane,
                    read_number=read_number,
                )
            )
    if unavailable:
        raise DomainError(
            f"{len(unavailable)} FASTQ file(s) of the selected libraries are not in storage (the "
            f"catalog has them as missing or never seen): {_listing(unavailable)}. Run "
            "`manage.py sync_storage` on their prefix, or re-import the fastq list.",
            details={"unavailableFiles": sorted(unavailable)},
        )
    return count, files


def _latest_successful_runs(selection: Selection) -> list[int]:
    """For each selected library and workflow name, the latest successful run (one query).

    Latest by start time, then end time, then portal run id (which starts with the date). The
    exclusion list is applied first: excluding a run falls back to the previous successful one.
    """
    through = WorkflowRun.libraries.through
    rows = through.objects.filter(
        library_id__in=selection.library_subquery(),
        workflowrun__status__in=WorkflowRun.SUCCESS_STATUSES,
    )
    if selection.workflow_names:
        rows = rows.filter(workflowrun__workflow_name__in=selection.workflow_names)
    if selection.excluded_run_pks:
        rows = rows.exclude(workflowrun_id__in=selection.excluded_run_pks)
    best: dict[tuple[int, str], tuple[tuple[Any, ...], int]] = {}
    floor = float("-inf")
    for library_pk, run_pk, name, start, end, portal_run_id in rows.values_list(
        "library_id",
        "workflowrun_id",
        "workflowrun__workflow_name",
        "workflowrun__start_time",
        "workflowrun__end_time",
        "workflowrun__portal_run_id",
    ):
        rank = (
            start.timestamp() if start else floor,
            end.timestamp() if end else floor,
            portal_run_id,
        )
        current = best.get((library_pk, name))
        if current is None or rank > current[0]:
            best[(library_pk, name)] = (rank, run_pk)
    return sorted({run_pk for _, run_pk in best.values()})


def _analyses(run_pks: list[int]) -> list[ResolvedAnalysis]:
    if not run_pks:
        return []
    library_ids: dict[int, list[str]] = defaultdict(list)
    for run_pk, library_id in (
        WorkflowRun.libraries.through.objects.filter(workflowrun_id__in=run_pks)
        .order_by("library__library_id")
        .values_list("workflowrun_id", "library__library_id")
    ):
        library_ids[run_pk].append(library_id)
    analyses = []
    for run in WorkflowRun.objects.filter(pk__in=run_pks).order_by(
        "workflow_name", "portal_run_id"
    ):
        output_uri = run.output_uri if run.output_uri.endswith("/") else run.output_uri + "/"
        analyses.append(
            ResolvedAnalysis(
                workflow_run_pk=run.pk,
                portal_run_id=run.portal_run_id,
                workflow_name=run.workflow_name,
                workflow_version=run.workflow_version,
                status=run.status,
                start_time=run.start_time,
                end_time=run.end_time,
                output_uri=output_uri,
                library_ids=library_ids[run.pk],
            )
        )
    return analyses


def _check_output_sources(analyses: list[ResolvedAnalysis], sources: SourcePolicy) -> None:
    """Every selected run's output prefix is inside an allowed source, before any is listed."""
    refused = [a for a in analyses if not sources.allows_uri(a.output_uri)]
    if refused:
        error = sources.refusal([a.output_uri for a in refused], what="their output")
        raise DomainError(
            f"Workflow run(s) {_listing(a.portal_run_id for a in refused)}: {error.message}",
            details={
                "portalRunsOutsideSources": sorted(a.portal_run_id for a in refused),
                **error.details,
            },
        )


def _secondary_files(
    request: PackageRequest,
    analyses: list[ResolvedAnalysis],
    *,
    sources: SourcePolicy,
    refresh_storage: bool,
    on_progress: Callable[[], None],
) -> list[ResolvedFile]:
    if not analyses:
        return []
    locations = {}
    for analysis in analyses:
        try:
            locations[analysis.workflow_run_pk] = s3.parse_s3_uri(analysis.output_uri)
        except DomainError as exc:
            raise DomainError(
                f"Workflow run {analysis.portal_run_id} has an unusable output URI: {exc.message}"
            ) from None
    _check_output_sources(analyses, sources)
    if refresh_storage:
        # One listing per run; checked for abort between batches of runs.
        uris = [str(loc) for loc in locations.values()]
        for start in range(0, len(uris), LISTING_BATCH):
            catalog_sync_prefixes(
                uris=uris[start : start + LISTING_BATCH],
                concurrency=settings.PACKAGE_S3_CONCURRENCY,
                policy=sources,
            )
            on_progress()
    by_prefix = {}
    for analysis in analyses:
        location = locations[analysis.workflow_run_pk]
        by_prefix[(location.bucket, location.key)] = analysis
    filters = filter_set_load()
    run_filters = {a.workflow_run_pk: filters.for_workflow(a.workflow_name) for a in analyses}
    keys = list(by_prefix)
    files: list[ResolvedFile] = []
    chunk = prefix_query_chunk()
    for start in range(0, len(keys), chunk):
        query = Q()
        for bucket, prefix in keys[start : start + chunk]:
            query |= Q(bucket=bucket, key__startswith=prefix)
        for obj in StoredObject.objects.filter(query, missing=False, size__isnull=False).order_by(
            "bucket", "key"
        ):
            # The run whose output prefix holds this object (the deepest, if prefixes nest).
            owner: ResolvedAnalysis | None = None
            cut = len(obj.key)
            while owner is None and cut > 0:
                cut = obj.key.rfind("/", 0, cut)
                if cut < 0:
                    break
                owner = by_prefix.get((obj.bucket, obj.key[: cut + 1]))
            if owner is None:
                continue
            relative = obj.key[cut + 1 :]
            if not file_is_shared(
                relative,
                workflow_filter=run_filters[owner.workflow_run_pk],
                use_workflow_filters=request.use_workflow_filters,
            ):
                continue
            files.append(
                _object_file(
                    obj,
                    relative_path=_join(
                        request.secondary_analysis_path_prefix,
                        owner.workflow_name,
                        owner.portal_run_id,
                        relative,
                    ),
                    data_type=DataType.SECONDARY_ANALYSIS,
                    workflow_run_pk=owner.workflow_run_pk,
                    portal_run_id=owner.portal_run_id,
                    workflow_name=owner.workflow_name,
                    library_id=owner.library_ids[0] if len(owner.library_ids) == 1 else "",
                )
            )
    return files


def _reject_files_not_shareable(files: list[ResolvedFile], sources: SourcePolicy) -> None:
    """Catalogued files outside the allowed sources, or with names that would break the
    package's line-based files, are refused by name."""
    outside = [f.source_uri for f in files if not sources.allows(f.source_bucket, f.source_key)]
    if outside:
        raise sources.refusal(outside, what=f"{len(outside)} catalogued file(s):")
    unsafe = [f.source_uri for f in files if unsafe_name_problem(f.source_key)]
    if unsafe:
        raise DomainError(
            f"{len(unsafe)} catalogued file(s) have a control or formatting character in their "
            f"name, which would break the package's checksum and manifest files: "
            f"{_listing(repr(uri) for uri in unsafe)}. Rename them in storage and sync again.",
            details={"unsafeNames": sorted(unsafe)},
        )


def _reject_duplicate_paths(files: list[ResolvedFile]) -> None:
    sources: dict[str, list[str]] = defaultdict(list)
    for f in files:
        sources[f.relative_path].append(f.source_uri)
    duplicates = {path: uris for path, uris in sources.items() if len(uris) > 1}
    if duplicates:
        shown = [
            f"{path} <- {' and '.join(sorted(uris))}"
            for path, uris in sorted(duplicates.items())[:MAX_LISTED_IN_ERRORS]
        ]
        raise DomainError(
            f"{len(duplicates)} destination path(s) would receive more than one file: "
            + "; ".join(shown)
            + (" ..." if len(duplicates) > MAX_LISTED_IN_ERRORS else "")
            + ". Use different path prefixes or exclude one of the sources.",
            details={"duplicatePaths": {p: sorted(u) for p, u in sorted(duplicates.items())}},
        )


def package_contents_resolve(
    *,
    request: PackageRequest,
    refresh_storage: bool,
    on_progress: Callable[[], None] = lambda: None,
) -> Resolution:
    """Everything the request selects, with relative paths. Raises 400 DomainErrors for requests
    that cannot become a package: unknown ids, duplicate paths, unavailable FASTQs, no files.

    With `refresh_storage`, the output prefix of every selected workflow run is listed first, so
    secondary-analysis files are those in storage now (the catalog is updated accordingly);
    without, nothing is listed and nothing is written (a dry run).
    """
    selection = package_selection_check(request=request)
    sources = source_policy_load()
    resolution = Resolution(libraries=_library_snapshots(selection))
    on_progress()
    if request.wants_fastq:
        resolution.fastq_count, fastq_files = _fastq_files(request, selection)
        resolution.files.extend(fastq_files)
    if request.wants_secondary:
        run_pks = (
            selection.explicit_run_pks
            if selection.explicit_run_pks is not None
            else _latest_successful_runs(selection)
        )
        resolution.analyses = _analyses(run_pks)
        on_progress()
        resolution.files.extend(
            _secondary_files(
                request,
                resolution.analyses,
                sources=sources,
                refresh_storage=refresh_storage,
                on_progress=on_progress,
            )
        )
    _reject_files_not_shareable(resolution.files, sources)
    _reject_duplicate_paths(resolution.files)
    if not resolution.files:
        wanted = " and ".join(request.data_type_list)
        raise DomainError(
            f"The request matches no files: the {len(resolution.libraries)} selected "
            f"librar{'y has' if len(resolution.libraries) == 1 else 'ies have'} no {wanted} "
            "data"
            + (
                f" on {_listing(request.instrument_run_id_list)}"
                if request.instrument_run_id_list
                else ""
            )
            + ".",
        )
    resolution.files.sort(key=lambda f: f.relative_path)
    return resolution
