"""Reads of packages and their frozen contents, shared by every app that shares packages."""

import datetime as dt

from django.db.models import QuerySet

from datasharing import s3
from datasharing.errors import Conflict, DomainError, NotFound
from datasharing.ids import normalize_id
from packages_app.models import (
    DataType,
    Package,
    PackageAnalysis,
    PackageFile,
    PackageLibrary,
    PackageStatus,
)


def package_get(*, package_id: str) -> Package:
    """The package with this id (`pkg.<ULID>` or a bare ULID); NotFound when unknown."""
    normalized = normalize_id(package_id, prefix="pkg")
    try:
        return Package.objects.select_related("requested_by").get(id=normalized)
    except Package.DoesNotExist:
        raise NotFound(f"No package with id {package_id!r}.") from None


def package_require_shareable(*, package: Package) -> None:
    """Push, presign and report need a SUCCEEDED package that has not expired (else 409)."""
    if package.status != PackageStatus.SUCCEEDED:
        raise Conflict(
            f"Package {package.id} is {package.status}; only SUCCEEDED packages can be shared.",
        )
    if package.has_expired:
        raise Conflict(f"Package {package.id} has expired.")


def package_files_list(
    *, package: Package, data_types: list[str] | None = None
) -> QuerySet[PackageFile]:
    files = PackageFile.objects.filter(package=package)
    if data_types:
        files = files.filter(data_type__in=data_types)
    return files.order_by("relative_path")


def package_archived_files(*, package: Package) -> list[str]:
    """Relative paths of files still in an archive tier (not restored): they cannot be shared."""
    return list(
        PackageFile.objects.filter(package=package, storage_class__in=s3.ARCHIVED_STORAGE_CLASSES)
        .exclude(restore_state="restored")
        .order_by("relative_path")
        .values_list("relative_path", flat=True)
    )


def package_list(
    *,
    package_names: list[str] | None = None,
    statuses: list[str] | None = None,
    requested_after: dt.datetime | None = None,
    requested_before: dt.datetime | None = None,
    completed_after: dt.datetime | None = None,
    completed_before: dt.datetime | None = None,
) -> QuerySet[Package]:
    """Packages matching every given filter, newest first (paginated by the caller, in SQL)."""
    unknown = sorted(set(statuses or []) - set(PackageStatus.values))
    if unknown:
        raise DomainError(
            f"Unknown status(es): {', '.join(unknown)}; use {', '.join(PackageStatus.values)}.",
            details={"status": unknown},
        )
    qs = Package.objects.select_related("requested_by")
    if package_names:
        qs = qs.filter(package_name__in=package_names)
    if statuses:
        qs = qs.filter(status__in=statuses)
    if requested_after:
        qs = qs.filter(request_time__gte=requested_after)
    if requested_before:
        qs = qs.filter(request_time__lte=requested_before)
    if completed_after:
        qs = qs.filter(completion_time__gte=completed_after)
    if completed_before:
        qs = qs.filter(completion_time__lte=completed_before)
    return qs.order_by("-request_time", "-id")


def package_libraries_list(*, package: Package) -> QuerySet[PackageLibrary]:
    return PackageLibrary.objects.filter(package=package).order_by("library_id", "pk")


def package_analyses_list(*, package: Package) -> QuerySet[PackageAnalysis]:
    return PackageAnalysis.objects.filter(package=package).order_by(
        "workflow_name", "portal_run_id", "pk"
    )


def package_fastqs_list(*, package: Package) -> QuerySet[PackageFile]:
    return package_files_list(package=package).filter(data_type=DataType.FASTQ)
