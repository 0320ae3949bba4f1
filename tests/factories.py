"""Test data builders for frozen packages (used where a test needs a package, not the resolver)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.contrib.auth.models import User
from django.utils import timezone

from datasharing import s3
from packages_app.models import DataType, Package, PackageFile, PackageLibrary, PackageStatus


def make_frozen_package(
    *,
    files: Iterable[tuple[str, str, str]],
    name: str = "test-package",
    user: User | None = None,
    status: str = PackageStatus.SUCCEEDED,
    request: dict[str, Any] | None = None,
    libraries: Iterable[str] = (),
) -> Package:
    """A package whose frozen contents are `files`: (bucket, key, relative_path) of real objects.

    Sizes, ETags and storage classes are read from S3, as freezing would.
    """
    now = timezone.now()
    package = Package.objects.create(
        package_name=name,
        status=status,
        request=request or {"library_id_list": list(libraries), "data_type_list": ["fastq"]},
        requested_by=user,
        start_time=now,
        completion_time=now if status == PackageStatus.SUCCEEDED else None,
        expires_at=now + timezone.timedelta(days=30),
    )
    rows = []
    total = 0
    for bucket, key, relative_path in files:
        info = s3.head_object(bucket, key)
        assert info is not None, f"s3://{bucket}/{key} does not exist"
        total += info.size
        rows.append(
            PackageFile(
                package=package,
                relative_path=relative_path,
                data_type=DataType.FASTQ if "fastq" in key else DataType.SECONDARY_ANALYSIS,
                source_bucket=bucket,
                source_key=key,
                size=info.size,
                etag=info.etag,
                storage_class=info.storage_class,
                restore_state=info.restore_state or "",
            )
        )
    PackageFile.objects.bulk_create(rows)
    PackageLibrary.objects.bulk_create(
        [PackageLibrary(package=package, library_id=lib, metadata={}) for lib in libraries]
    )
    package.file_count = len(rows)
    package.total_bytes = total
    package.archived_file_count = sum(1 for row in rows if row.is_archived)
    package.library_count = PackageLibrary.objects.filter(package=package).count()
    package.save()
    return package
