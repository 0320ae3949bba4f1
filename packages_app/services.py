"""Package services: create, dry run, abort, delete, and the pipeline steps the tasks run.

Abort and delete are owner-or-admin (`datasharing.ownership`; docs/permissions.md).

Pipeline (each arrow a conditional state change, see `lifecycle`):

    package_build:   claim PENDING -> RUNNING, resolve, read archive state, freeze
                     -> with archived files and defrostArchivedFastqs: restore requests, UNARCHIVING
                     -> otherwise package_finalize
    (beat) package_restores_check: UNARCHIVING -> RUNNING when all restored -> package_finalize
    package_finalize: artifacts (manifest, checksums, report) -> SUCCEEDED

Every failure ends in FAILED with a message a person can act on. Transient failures (S3 or the
database unreachable after the clients' own retries) release the package to PENDING and retry
the build from the start (resolution and freezing are idempotent), PACKAGE_MAX_ATTEMPTS in all.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.contrib.auth.models import User
from django.db import DatabaseError, InterfaceError, OperationalError, transaction
from django.db.models import DateTimeField, F, ProtectedError, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from datasharing import s3
from datasharing.errors import Conflict, DomainError
from datasharing.jobs import RetryPolicy
from datasharing.ownership import require_owner_or_admin
from packages_app import defrost
from packages_app.events import package_state_announce
from packages_app.lifecycle import (
    NON_TERMINAL_STATUSES,
    PACKAGE_JOBS,
    PackageStopped,
    package_build_enqueue,
    package_fail,
    package_finalize_enqueue,
    package_progress,
    package_restores_check_enqueue,
    package_transition,
    packages_reap,
)
from packages_app.models import (
    TERMINAL_PACKAGE_STATUSES,
    Package,
    PackageAnalysis,
    PackageFile,
    PackageLibrary,
    PackageStatus,
)
from packages_app.package_request import (
    package_name_validate,
    package_request_from_stored,
    package_request_parse,
)
from packages_app.report.artifacts import package_artifacts_write
from packages_app.resolution import (
    Resolution,
    package_contents_resolve,
    package_selection_check,
)

logger = logging.getLogger(__name__)

FREEZE_BATCH = 2000
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    *s3.S3_ERRORS,
    OperationalError,
    InterfaceError,
)

STEP_QUEUED = "queued"
STEP_RESOLVING = "resolving"
STEP_ARCHIVE_STATE = "reading-archive-state"
STEP_FREEZING = "freezing"
STEP_ARTIFACTS = defrost.STEP_ARTIFACTS
STEP_DONE = "done"


# --- Requests -----------------------------------------------------------------------------------


def package_create(
    *, package_name: str, package_request: dict[str, Any], user: User | None
) -> Package:
    """Validate the request against the catalog (400 DomainError naming unknown ids and
    conflicting fields) and create a PENDING package; packaging starts after commit."""
    name = package_name_validate(package_name)
    request = package_request_parse(package_request)
    package_selection_check(request=request)
    requested_by = user if user is not None and user.is_authenticated else None
    with transaction.atomic():
        package = Package.objects.create(
            package_name=name,
            request=request.as_dict(),
            requested_by=requested_by,
            status=PackageStatus.PENDING,
            step=STEP_QUEUED,
        )
        package_state_announce(package)
        package_id = package.id
        transaction.on_commit(lambda: package_build_enqueue(package_id=package_id))
    logger.info("package %s (%s) created by %s", package.id, name, requested_by or "the system")
    return package


def package_dry_run(*, package_name: str, package_request: dict[str, Any]) -> dict[str, Any]:
    """What the request would package: counts, sizes, archived files. Changes nothing.

    Resolution is the packaging one (same errors) over the catalog as it is: no output prefix is
    listed and nothing is written (viewers may call it), so files written since the last listing
    are not counted; `output_listings_refreshed` (always False) says so. Packaging lists the
    selected runs' output prefixes first (PACKAGE_REFRESH_OUTPUT_LISTINGS).
    """
    name = package_name_validate(package_name)
    request = package_request_parse(package_request)
    resolution = package_contents_resolve(request=request, refresh_storage=False)
    return {
        "package_name": name,
        "package_request": request.as_dict(),
        **resolution.summary(),
        "output_listings_refreshed": False,
    }


def package_require_owner_or_admin(*, package: Package, user: User | None, action: str) -> None:
    """403 naming the requester unless `user` requested the package or is an admin (None: the
    system). Automatic packages have no requester: only admins abort or delete them."""
    requester = package.requested_by
    require_owner_or_admin(
        user=user,
        owner_id=package.requested_by_id,
        owner_name=requester.get_username() if requester is not None else "",
        thing=f"Package {package.id}",
        made="requested",
        action=action,
    )


def package_abort(*, package: Package, user: User | None) -> Package:
    """ABORTED from any non-terminal state (409 once terminal); only its requester or an admin
    (403; None: the system). Work in progress stops at its next step or batch; restore requests
    already sent to S3 cannot be withdrawn."""
    package_require_owner_or_admin(package=package, user=user, action="abort")
    who = getattr(user, "username", "") or "the system"
    aborted = package_transition(
        package.id,
        from_statuses=NON_TERMINAL_STATUSES,
        to_status=PackageStatus.ABORTED,
        error_message=f"Aborted by {who}.",
    )
    if aborted is None:
        package.refresh_from_db()
        raise Conflict(
            f"Package {package.id} is already {package.status}; only PENDING, RUNNING or "
            "UNARCHIVING packages can be aborted.",
        )
    return aborted


def package_delete(*, package: Package, user: User | None) -> None:
    """Delete a finished package and its artifacts: only its requester or an admin (403; None:
    the system). Refused (409) while it is being built."""
    package_require_owner_or_admin(package=package, user=user, action="delete")
    if package.status in NON_TERMINAL_STATUSES:
        raise Conflict(
            f"Package {package.id} is {package.status}; abort it before deleting it.",
        )
    with transaction.atomic():
        try:
            deleted, _ = Package.objects.filter(
                id=package.id, status__in=TERMINAL_PACKAGE_STATUSES
            ).delete()
        except ProtectedError:
            raise Conflict(
                f"Package {package.id} cannot be deleted: push jobs or other records refer to it.",
            ) from None
        if deleted:
            # Inside the transaction: if the artifacts cannot be removed, the package stays.
            s3.delete_prefix(settings.ARTIFACT_BUCKET, s3.artifact_key(package.id) + "/")
    logger.info("package %s deleted by %s", package.id, getattr(user, "username", "the system"))


# --- Pipeline -----------------------------------------------------------------------------------


def _describe(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return f"{type(exc).__name__}: {text}" if type(exc).__name__ not in text else text


def _retry_or_fail(package_id: str, exc: BaseException) -> None:
    """Back to PENDING and build again after a backoff, or FAILED after PACKAGE_MAX_ATTEMPTS."""
    package = Package.objects.filter(id=package_id).only("attempts").first()
    PACKAGE_JOBS.retry_or_fail(
        package_id,
        attempt=package.attempts if package else settings.PACKAGE_MAX_ATTEMPTS,
        policy=RetryPolicy(
            max_attempts=settings.PACKAGE_MAX_ATTEMPTS,
            base_seconds=settings.PACKAGE_RETRY_BACKOFF_SECONDS,
            max_seconds=settings.PACKAGE_RETRY_BACKOFF_MAX_SECONDS,
        ),
        reason=_describe(exc),
        requeue=lambda countdown: package_build_enqueue(package_id=package_id, countdown=countdown),
        step="waiting-to-retry",
    )


def _guarded(package_id: str, step: Callable[[], None]) -> None:
    """Run a pipeline step; turn every way it can end into a state (never a silent RUNNING)."""
    try:
        step()
    except PackageStopped as exc:
        logger.info("package %s: stopped (%s)", package_id, exc)
    except DomainError as exc:
        package_fail(package_id=package_id, error_message=exc.message)
    except SoftTimeLimitExceeded:
        package_fail(
            package_id=package_id,
            error_message="Packaging took longer than the task time limit "
            f"({settings.CELERY_TASK_SOFT_TIME_LIMIT} s).",
        )
    except TRANSIENT_ERRORS as exc:
        if isinstance(exc, s3.S3_ERRORS) and not s3.is_transient(exc):
            package_fail(package_id=package_id, error_message=f"Storage error: {_describe(exc)}")
            return
        try:
            _retry_or_fail(package_id, exc)
        except DatabaseError:
            # The database is gone: the stuck-job check fails the package once it is back.
            logger.exception("package %s: could not record the failure", package_id)
    except Exception as exc:
        logger.exception("package %s: unexpected error", package_id)
        package_fail(package_id=package_id, error_message=f"Unexpected error: {_describe(exc)}")


def _freeze(package_id: str, resolution: Resolution) -> None:
    """Write the frozen contents and counts in one transaction, only if still RUNNING.

    Earlier frozen rows (from an attempt that failed later) are replaced.
    """
    with transaction.atomic():
        package = Package.objects.select_for_update().get(id=package_id)
        if package.status != PackageStatus.RUNNING:
            raise PackageStopped(f"package {package_id} is {package.status}")
        PackageFile.objects.filter(package=package).delete()
        PackageAnalysis.objects.filter(package=package).delete()
        PackageLibrary.objects.filter(package=package).delete()
        PackageLibrary.objects.bulk_create(
            _frozen_libraries(package, resolution), batch_size=FREEZE_BATCH
        )
        PackageAnalysis.objects.bulk_create(
            _frozen_analyses(package, resolution), batch_size=FREEZE_BATCH
        )
        PackageFile.objects.bulk_create(_frozen_files(package, resolution), batch_size=FREEZE_BATCH)
        summary = resolution.summary()
        Package.objects.filter(id=package_id).update(
            library_count=summary["library_count"],
            fastq_count=summary["fastq_count"],
            workflow_run_count=summary["workflow_run_count"],
            file_count=summary["file_count"],
            total_bytes=summary["total_bytes"],
            archived_file_count=summary["archived_file_count"],
            step="frozen",
            last_progress_time=timezone.now(),
        )


def _frozen_libraries(package: Package, resolution: Resolution) -> list[PackageLibrary]:
    return [
        PackageLibrary(
            package=package,
            catalog_library_id=lib.library_pk,
            library_id=lib.library_id,
            metadata=lib.metadata,
        )
        for lib in resolution.libraries
    ]


def _frozen_analyses(package: Package, resolution: Resolution) -> list[PackageAnalysis]:
    return [
        PackageAnalysis(
            package=package,
            workflow_run_id=a.workflow_run_pk,
            portal_run_id=a.portal_run_id,
            workflow_name=a.workflow_name,
            workflow_version=a.workflow_version,
            status=a.status,
            start_time=a.start_time,
            end_time=a.end_time,
            output_uri=a.output_uri,
            library_ids=a.library_ids,
        )
        for a in resolution.analyses
    ]


def _frozen_files(package: Package, resolution: Resolution) -> list[PackageFile]:
    return [
        PackageFile(
            package=package,
            relative_path=f.relative_path,
            data_type=f.data_type,
            source_bucket=f.source_bucket,
            source_key=f.source_key,
            size=f.size,
            etag=f.etag,
            md5=f.md5,
            sha256=f.sha256,
            storage_class=f.storage_class,
            restore_state=f.restore_state,
            stored_object_id=f.stored_object_pk,
            catalog_library_id=f.library_pk,
            fastq_id=f.fastq_pk,
            workflow_run_id=f.workflow_run_pk,
            library_id=f.library_id,
            instrument_run_id=f.instrument_run_id,
            lane=f.lane,
            read_number=f.read_number,
            portal_run_id=f.portal_run_id,
            workflow_name=f.workflow_name,
        )
        for f in resolution.files
    ]


def _build(package: Package) -> None:
    request = package_request_from_stored(package.request)
    package_id = package.id
    resolution = package_contents_resolve(
        request=request,
        refresh_storage=settings.PACKAGE_REFRESH_OUTPUT_LISTINGS,
        on_progress=lambda: package_progress(package_id, step=STEP_RESOLVING),
    )
    package_progress(package_id, step=STEP_ARCHIVE_STATE)
    defrost.restore_state_refresh(resolution.files)
    package_progress(package_id, step=STEP_FREEZING)
    _freeze(package_id, resolution)
    logger.info(
        "package %s frozen: %d libraries, %d files, %d bytes",
        package_id,
        len(resolution.libraries),
        len(resolution.files),
        resolution.total_bytes,
    )
    if request.defrost_archived_fastqs and any(f.needs_restore for f in resolution.files):
        defrost.package_restores_request(package_id=package_id)
        return
    _finalize(package_id)


def _finalize(package_id: str) -> None:
    package_progress(package_id, step=STEP_ARTIFACTS)
    package_artifacts_write(package=Package.objects.get(id=package_id))
    finished = package_transition(
        package_id,
        from_statuses=[PackageStatus.RUNNING],
        to_status=PackageStatus.SUCCEEDED,
        step=STEP_DONE,
        error_message="",
    )
    if finished is None:
        raise PackageStopped(f"package {package_id} is no longer RUNNING")


def package_build(*, package_id: str) -> None:
    """Claim a PENDING package and build it (the Celery task's body). A package that is not
    PENDING (claimed by another worker, aborted, finished) is left alone."""
    now = timezone.now()
    package = PACKAGE_JOBS.transition(
        package_id,
        from_statuses=[PackageStatus.PENDING],
        to_status=PackageStatus.RUNNING,
        step=STEP_RESOLVING,
        start_time=Coalesce(F("start_time"), Value(now, output_field=DateTimeField())),
        attempts=F("attempts") + 1,
    )
    if package is None:
        logger.info("package %s is not PENDING; nothing to do", package_id)
        return
    _guarded(package_id, lambda: _build(package))


def package_finalize(*, package_id: str) -> None:
    """The last step after unarchiving (the package is RUNNING again)."""
    _guarded(package_id, lambda: _finalize(package_id))


def package_restores_check(*, package_id: str) -> None:
    """One poll of an UNARCHIVING package (the Celery task's body)."""
    outcome = "failed"
    try:
        outcome = defrost.package_restores_check(package_id=package_id)
    except PackageStopped:
        return
    except DomainError as exc:
        package_fail(package_id=package_id, error_message=exc.message)
    except TRANSIENT_ERRORS as exc:
        if isinstance(exc, s3.S3_ERRORS) and not s3.is_transient(exc):
            package_fail(package_id=package_id, error_message=f"Storage error: {_describe(exc)}")
            return
        # The next poll tries again; the stuck-job check fails the package if polls keep failing.
        logger.warning("package %s: restore check failed (%s)", package_id, _describe(exc))
    if outcome == "restored":
        package_finalize_enqueue(package_id=package_id)


def packages_restores_poll() -> int:
    """Enqueue one restore check per UNARCHIVING package (beat). Returns how many."""
    package_ids = list(
        Package.objects.filter(status=PackageStatus.UNARCHIVING).values_list("id", flat=True)
    )
    for package_id in package_ids:
        package_restores_check_enqueue(package_id=package_id)
    return len(package_ids)


def packages_fail_stuck() -> dict[str, int]:
    """Fail RUNNING / UNARCHIVING packages without progress past the limit (a lost worker, a poll
    that keeps failing); re-enqueue PENDING ones whose task seems lost. The one reaper
    (`datasharing.jobs.jobs_reap`, beat) does this for every kind of job; this runs it for
    packages only."""
    return packages_reap()


def packages_expire_artifacts(*, now: dt.datetime | None = None) -> int:
    """Beat: delete the artifacts (manifest, checksums, report, download scripts: everything
    under the package's artifact prefix) of packages past `expires_at`, and clear their artifact
    keys, which is how an expired package records that its artifacts are gone. Push, presign and
    report already refuse expired packages (409). Returns how many packages were cleaned."""
    now = now or timezone.now()
    cleaned = 0
    expired = (
        Package.objects.filter(expires_at__lte=now)
        .exclude(manifest_key="", checksums_key="", report_html_key="", report_pdf_key="")
        .values_list("id", flat=True)
    )
    for package_id in list(expired):
        with transaction.atomic():
            package = Package.objects.select_for_update().get(id=package_id)
            # Deleted inside the transaction: when S3 refuses, the keys stay and the next run
            # tries again.
            s3.delete_prefix(settings.ARTIFACT_BUCKET, s3.artifact_key(package.id) + "/")
            package.manifest_key = package.checksums_key = ""
            package.report_html_key = package.report_pdf_key = ""
            package.save(
                update_fields=["manifest_key", "checksums_key", "report_html_key", "report_pdf_key"]
            )
        cleaned += 1
        logger.info("package %s expired: artifacts deleted", package_id)
    return cleaned
