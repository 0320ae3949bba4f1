"""Archived files (GLACIER, DEEP_ARCHIVE): current restore state, restore requests, polling.

With `defrostArchivedFastqs` the package goes to UNARCHIVING once restores are requested; beat
polls it (`packages_restores_poll` -> one `package_restores_check` task per package) without any
worker waiting in between, and the package continues when every file is restored, or fails with
the list of files that were not restored within PACKAGE_RESTORE_MAX_WAIT_HOURS.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from django.conf import settings
from django.utils import timezone

from datasharing import s3
from datasharing.errors import DomainError
from packages_app.lifecycle import (
    PackageStopped,
    package_fail,
    package_progress,
    package_transition,
)
from packages_app.models import Package, PackageFile, PackageStatus
from packages_app.resolution import ResolvedFile

logger = logging.getLogger(__name__)

BATCH = 200
ARCHIVED = sorted(s3.ARCHIVED_STORAGE_CLASSES)
MAX_LISTED = 20

STEP_REQUESTING = "requesting-restores"
STEP_WAITING = "waiting-for-restores"
STEP_ARTIFACTS = "writing-artifacts"


def _pool_size(count: int) -> int:
    return max(1, min(settings.PACKAGE_S3_CONCURRENCY, count))


def _head_all(locations: Sequence[tuple[str, str]]) -> list[s3.ObjectInfo | None]:
    if not locations:
        return []
    with ThreadPoolExecutor(max_workers=_pool_size(len(locations))) as pool:
        return list(pool.map(lambda loc: s3.head_object(*loc), locations))


def _listing(paths: Sequence[str]) -> str:
    shown = ", ".join(sorted(paths)[:MAX_LISTED])
    return shown + (f" (and {len(paths) - MAX_LISTED} more)" if len(paths) > MAX_LISTED else "")


def restore_state_refresh(files: Sequence[ResolvedFile]) -> None:
    """Read the current storage class and restore state of the archived files (HEAD, bounded
    concurrency): the catalog may be older than a restore that finished since."""
    archived = [f for f in files if f.is_archived]
    gone = []
    for start in range(0, len(archived), BATCH):
        batch = archived[start : start + BATCH]
        for f, info in zip(
            batch, _head_all([(f.source_bucket, f.source_key) for f in batch]), strict=True
        ):
            if info is None:
                gone.append(f.source_uri)
                continue
            f.storage_class = info.storage_class
            f.restore_state = (info.restore_state or "") if info.is_archived else ""
    if gone:
        raise DomainError(
            f"{len(gone)} archived file(s) no longer exist in storage: {_listing(gone)}.",
            details={"missingFiles": sorted(gone)},
        )


def _request(files: Sequence[PackageFile]) -> None:
    def request(f: PackageFile) -> str:
        try:
            return s3.restore_object(
                f.source_bucket,
                f.source_key,
                days=settings.PACKAGE_RESTORE_DAYS,
                tier=settings.PACKAGE_RESTORE_TIER,
            )
        except s3.S3_ERRORS as exc:
            if s3.is_transient(exc):
                raise
            raise DomainError(
                f"S3 refused to restore {f.source_uri}: {s3.error_code(exc)} ({exc}). The "
                "storage may not support archive restores; restore the files by other means "
                "or package without defrostArchivedFastqs."
            ) from None

    with ThreadPoolExecutor(max_workers=_pool_size(len(files))) as pool:
        list(pool.map(request, files))
    PackageFile.objects.filter(pk__in=[f.pk for f in files]).update(restore_state="ongoing")


def package_restores_request(*, package_id: str) -> None:
    """Issue a restore request for every frozen file still in an archive tier, then UNARCHIVING.

    Caller: the build step, with the package RUNNING and its contents frozen.
    """
    pending = list(
        PackageFile.objects.filter(package_id=package_id, storage_class__in=ARCHIVED)
        .exclude(restore_state__in=["restored", "ongoing"])
        .order_by("pk")
    )
    for start in range(0, len(pending), BATCH):
        package_progress(package_id, step=STEP_REQUESTING)
        _request(pending[start : start + BATCH])
    logger.info("package %s: restore requested for %d file(s)", package_id, len(pending))
    moved = package_transition(
        package_id,
        from_statuses=[PackageStatus.RUNNING],
        to_status=PackageStatus.UNARCHIVING,
        step=STEP_WAITING,
        restore_requested_at=timezone.now(),
    )
    if moved is None:
        raise PackageStopped(f"package {package_id} is no longer RUNNING")


def package_restores_check(*, package_id: str) -> str:
    """Poll the restore state of an UNARCHIVING package's files (HEAD each one still archived).

    Returns what happened: "not-unarchiving", "waiting", "restored" (the package is RUNNING again
    and the caller enqueues the last step) or "failed".
    """
    package = Package.objects.filter(id=package_id, status=PackageStatus.UNARCHIVING).first()
    if package is None:
        return "not-unarchiving"
    pending = list(
        PackageFile.objects.filter(package=package, storage_class__in=ARCHIVED)
        .exclude(restore_state="restored")
        .order_by("pk")
    )
    gone: list[str] = []
    for start in range(0, len(pending), BATCH):
        batch = pending[start : start + BATCH]
        for f, info in zip(
            batch, _head_all([(f.source_bucket, f.source_key) for f in batch]), strict=True
        ):
            if info is None:
                gone.append(f.relative_path)
                continue
            f.storage_class = info.storage_class
            f.restore_state = (info.restore_state or "") if info.is_archived else ""
        PackageFile.objects.bulk_update(batch, ["storage_class", "restore_state"])
        package_progress(package_id, step=STEP_WAITING, status=PackageStatus.UNARCHIVING)
    if gone:
        package_fail(
            package_id=package_id,
            error_message=f"{len(gone)} archived file(s) disappeared from storage while being "
            f"restored: {_listing(gone)}.",
        )
        return "failed"
    still = [f for f in pending if f.needs_restore]
    if not still:
        moved = package_transition(
            package_id,
            from_statuses=[PackageStatus.UNARCHIVING],
            to_status=PackageStatus.RUNNING,
            step=STEP_ARTIFACTS,
        )
        return "restored" if moved is not None else "not-unarchiving"
    requested_at = package.restore_requested_at or package.last_progress_time
    limit = dt.timedelta(hours=settings.PACKAGE_RESTORE_MAX_WAIT_HOURS)
    if timezone.now() - requested_at > limit:
        package_fail(
            package_id=package_id,
            error_message=f"{len(still)} archived file(s) were not restored within "
            f"{settings.PACKAGE_RESTORE_MAX_WAIT_HOURS:g} hours: "
            f"{_listing([f.relative_path for f in still])}.",
        )
        return "failed"
    # A restore that expired or never took (neither ongoing nor restored) is asked for again.
    lost = [f for f in still if f.restore_state == ""]
    for start in range(0, len(lost), BATCH):
        _request(lost[start : start + BATCH])
    logger.info(
        "package %s: %d of %d archived file(s) still being restored",
        package_id,
        len(still),
        len(pending),
    )
    return "waiting"


def package_restore_progress(*, package: Package) -> tuple[int, int]:
    """(restored, archived) file counts of a package (for progress displays)."""
    archived = PackageFile.objects.filter(package=package, storage_class__in=ARCHIVED)
    return archived.filter(restore_state="restored").count(), archived.count()
