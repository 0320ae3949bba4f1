"""Reads of push jobs and the ledger."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from django.db.models import Q, QuerySet

from catalog_app.models import Library
from datasharing.errors import DomainError, NotFound
from datasharing.ids import normalize_id
from packages_app.models import Package, PackageLibrary
from sharing_app.push.models import PushFile, PushJob


def push_job_get(*, push_job_id: str) -> PushJob:
    """The push job with this id (`psh.<ULID>` or a bare ULID); NotFound when unknown."""
    normalized = normalize_id(push_job_id, prefix="psh")
    try:
        return PushJob.objects.select_related("requested_by").get(id=normalized)
    except PushJob.DoesNotExist:
        raise NotFound(f"No push job with id {push_job_id!r}.") from None


def push_job_list(
    *,
    package_ids: Sequence[str] = (),
    statuses: Sequence[str] = (),
    destination: str = "",
    requested_after: dt.datetime | None = None,
    requested_before: dt.datetime | None = None,
) -> QuerySet[PushJob]:
    """Newest first; `destination` matches jobs whose destination starts with it."""
    jobs = PushJob.objects.all()
    if package_ids:
        ids = []
        for value in package_ids:
            try:
                ids.append(normalize_id(value, prefix="pkg"))
            except DomainError:
                continue  # an id that cannot exist matches nothing
        jobs = jobs.filter(package_id__in=ids)
    if statuses:
        jobs = jobs.filter(status__in=[s.upper() for s in statuses])
    if destination:
        jobs = jobs.filter(share_destination__startswith=destination)
    if requested_after is not None:
        jobs = jobs.filter(request_time__gte=requested_after)
    if requested_before is not None:
        jobs = jobs.filter(request_time__lt=requested_before)
    return jobs.order_by("-request_time", "-id")


def push_file_list(*, push_job: PushJob, statuses: Sequence[str] = ()) -> QuerySet[PushFile]:
    files = PushFile.objects.filter(job=push_job)
    if statuses:
        files = files.filter(status__in=[s.upper() for s in statuses])
    return files.order_by("relative_path")


def push_file_search(
    *,
    library_ids: Sequence[str] = (),
    subject_ids: Sequence[str] = (),
    project_ids: Sequence[str] = (),
    destination: str = "",
    package_ids: Sequence[str] = (),
    statuses: Sequence[str] = (),
    completed_after: dt.datetime | None = None,
    completed_before: dt.datetime | None = None,
) -> QuerySet[PushFile]:
    """The ledger across pushes: who received which files. Newest first.

    `subject_ids` match internal or external subject ids; `destination` is a prefix of the
    file's destination URI or of its job's share destination (as typed, e.g. a project name).
    """
    files = PushFile.objects.select_related("job")
    if library_ids:
        files = files.filter(library_id__in=library_ids)
    if subject_ids:
        files = files.filter(Q(subject_id__in=subject_ids) | Q(external_subject_id__in=subject_ids))
    if project_ids:
        any_project = Q()
        for project_id in project_ids:
            any_project |= Q(project_ids__contains=f",{project_id},")
        files = files.filter(any_project)
    if destination:
        files = files.filter(
            Q(destination_uri__startswith=destination)
            | Q(job__share_destination__startswith=destination)
        )
    if package_ids:
        ids = []
        for value in package_ids:
            try:
                ids.append(normalize_id(value, prefix="pkg"))
            except DomainError:
                continue
        files = files.filter(job__package_id__in=ids)
    if statuses:
        files = files.filter(status__in=[s.upper() for s in statuses])
    if completed_after is not None:
        files = files.filter(completed_at__gte=completed_after)
    if completed_before is not None:
        files = files.filter(completed_at__lt=completed_before)
    return files.order_by("-id")


@dataclass(frozen=True)
class LibraryIdentity:
    subject_id: str = ""
    external_subject_id: str = ""
    project_ids: tuple[str, ...] = ()


def _from_metadata(metadata: dict[str, object]) -> LibraryIdentity:
    def text(*keys: str) -> str:
        for key in keys:
            value = metadata.get(key)
            if isinstance(value, str) and value:
                return value
        return ""

    projects = metadata.get("project_ids")
    project_ids: tuple[str, ...] = ()
    if isinstance(projects, list):
        project_ids = tuple(str(p) for p in projects if p)
    elif text("project_id"):
        project_ids = (text("project_id"),)
    return LibraryIdentity(
        subject_id=text("subject_id", "internal_subject_id"),
        external_subject_id=text("external_subject_id"),
        project_ids=project_ids,
    )


def package_library_identities(*, package: Package) -> dict[str, LibraryIdentity]:
    """Subject and project ids of each library of the package: from the package's metadata
    snapshot, else from the catalog (for libraries whose snapshot lacks them)."""
    identities = {
        library.library_id: _from_metadata(library.metadata or {})
        for library in PackageLibrary.objects.filter(package=package).only("library_id", "metadata")
    }
    file_libraries = set(
        package.files.exclude(library_id="").values_list("library_id", flat=True).distinct()
    )
    missing = [
        library_id
        for library_id in file_libraries | set(identities)
        if not identities.get(library_id, LibraryIdentity()).subject_id
    ]
    if missing:
        for library in (
            Library.objects.filter(library_id__in=missing)
            .select_related("subject")
            .prefetch_related("projects")
        ):
            snapshot = identities.get(library.library_id, LibraryIdentity())
            identities[library.library_id] = LibraryIdentity(
                subject_id=library.subject.internal_subject_id if library.subject else "",
                external_subject_id=library.subject.external_subject_id if library.subject else "",
                project_ids=snapshot.project_ids
                or tuple(sorted(p.project_id for p in library.projects.all())),
            )
    return identities
