"""Reads of packages and their frozen contents, shared by every app that shares packages."""

from django.db.models import QuerySet

from datasharing.errors import DomainError
from datasharing.ids import normalize_id
from packages_app.models import Package, PackageFile, PackageStatus


def package_get(*, package_id: str) -> Package:
    """The package with this id (`pkg.<ULID>` or a bare ULID); 404 DomainError when unknown."""
    normalized = normalize_id(package_id, prefix="pkg")
    try:
        return Package.objects.select_related("requested_by").get(id=normalized)
    except Package.DoesNotExist:
        raise DomainError(f"No package with id {package_id!r}.", status_code=404) from None


def package_require_shareable(*, package: Package) -> None:
    """Push, presign and report need a SUCCEEDED package that has not expired (else 409)."""
    if package.status != PackageStatus.SUCCEEDED:
        raise DomainError(
            f"Package {package.id} is {package.status}; only SUCCEEDED packages can be shared.",
            status_code=409,
        )
    if package.has_expired:
        raise DomainError(f"Package {package.id} has expired.", status_code=409)


def package_files_list(*, package: Package) -> QuerySet[PackageFile]:
    return PackageFile.objects.filter(package=package).order_by("relative_path")


def package_archived_files(*, package: Package) -> list[str]:
    """Relative paths of files still in an archive tier (not restored): they cannot be shared."""
    return list(
        PackageFile.objects.filter(package=package, storage_class__in=["GLACIER", "DEEP_ARCHIVE"])
        .exclude(restore_state="restored")
        .order_by("relative_path")
        .values_list("relative_path", flat=True)
    )
