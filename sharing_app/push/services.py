"""Push jobs: create, start (write check, start marker, ledger), copy (copier tasks), finalize
(receipts, end marker), abort, and reconcile what workers left behind.

Lifecycle: PENDING -> RUNNING -> SUCCEEDED | FAILED | ABORTED (ABORTED from PENDING or RUNNING).
Steps of a RUNNING job: planning -> copying -> finalizing. Every transition is a conditional
UPDATE, so a task delivered twice, or run by reconciliation after a worker died, does nothing twice.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from collections import Counter
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.db import IntegrityError, connection, transaction
from django.db.models import Count, F, QuerySet, Sum
from django.db.models.functions import Length
from django.utils import timezone

from datasharing import aws_events, hooks, s3
from datasharing.errors import Conflict, DomainError
from datasharing.logs import job_context
from packages_app.models import Package, PackageFile
from packages_app.selectors import package_archived_files, package_require_shareable
from sharing_app.destinations.destination import S3, Destination, check_relative_paths_fit
from sharing_app.destinations.policy import require_destination_allowed
from sharing_app.push import icav2, icav2_transfer, receipts, runner, s3_transfer
from sharing_app.push.models import (
    ACTIVE_PUSH_STATUSES,
    DestinationType,
    PushFile,
    PushFileStatus,
    PushJob,
    PushStatus,
    PushStep,
    join_project_ids,
)
from sharing_app.push.selectors import LibraryIdentity, package_library_identities

logger = logging.getLogger(__name__)

EVENT_DETAIL_TYPE = "DataPushJobStateChange"
UNFINISHED_FILE_STATUSES = (PushFileStatus.PENDING, PushFileStatus.IN_PROGRESS)
MAX_ARCHIVED_LISTED = 1000


# --- Create and abort (API) -----------------------------------------------------------------------


def push_create(
    *,
    package: Package,
    destination: Destination,
    user: User | None,
    policy_user: User | None = None,
) -> PushJob:
    """Check the destination's policy (403) and that the package can be shared (409), create the
    job and start it once the transaction commits. The caller parsed the destination (400).

    `user` is recorded as the requester (None: automation without an approver); the destination
    policy is judged for `policy_user` when given (automation: the author of the rule), else for
    `user`."""
    require_destination_allowed(destination, user=policy_user if policy_user is not None else user)
    package_require_shareable(package=package)
    archived = package_archived_files(package=package)
    if archived:
        shown = ", ".join(archived[:10]) + (" ..." if len(archived) > 10 else "")
        raise Conflict(
            f"{len(archived)} files of package {package.id} are archived and not restored, so "
            f"they cannot be pushed: {shown}. Restore them (package with defrostArchivedFastqs) "
            "and push again.",
            details={"archived_files": archived[:MAX_ARCHIVED_LISTED], "count": len(archived)},
        )
    reserved = list(
        PackageFile.objects.filter(
            package=package, relative_path__in=receipts.RESERVED_NAMES
        ).values_list("relative_path", flat=True)
    )
    if reserved:
        raise Conflict(
            f"Package files would overwrite the push receipts: {', '.join(sorted(reserved))}.",
        )
    longest = (
        PackageFile.objects.filter(package=package)
        .order_by(Length("relative_path").desc())
        .values_list("relative_path", flat=True)
        .first()
    )
    if longest:
        check_relative_paths_fit(destination, longest)

    fields: dict[str, Any] = {
        "package": package,
        "package_name": package.package_name,
        "share_destination": destination.uri,
        "requested_by": user if getattr(user, "pk", None) else None,
        "requested_by_name": getattr(user, "username", "") or "",
        "file_count": package.file_count,
        "total_bytes": package.total_bytes,
    }
    if destination.kind == S3:
        fields |= {
            "destination_type": DestinationType.S3,
            "destination_bucket": destination.bucket,
            "destination_prefix": destination.prefix,
        }
    else:
        fields |= {
            "destination_type": DestinationType.ICAV2,
            "icav2_project": destination.project,
            "icav2_project_id": destination.project if destination.project_is_id else "",
            "icav2_folder_path": destination.folder_path,
        }
    with transaction.atomic():
        try:
            with transaction.atomic():
                job = PushJob.objects.create(**fields)
        except IntegrityError:
            active = PushJob.objects.filter(
                package=package, share_destination=destination.uri, status__in=ACTIVE_PUSH_STATUSES
            ).first()
            if active is None:
                raise
            raise Conflict(
                f"Push {active.id} of package {package.id} to {destination.uri} is already "
                f"{active.status}; wait for it or abort it.",
                details={"push_job_id": active.id},
            ) from None
        _publish(job)
        _enqueue_start(job.id)
    logger.info(
        "Push %s of %s to %s created by %s",
        job.id,
        package.id,
        job.share_destination,
        job.requested_by_name,
    )
    return job


def push_abort(*, push_job: PushJob, user: User) -> PushJob:
    """Stop a PENDING or RUNNING push (409 otherwise). Files being copied finish; the others are
    recorded as ABORTED; the end marker says so."""
    now = timezone.now()
    who = getattr(user, "username", "") or "an administrator"
    with transaction.atomic():
        updated = PushJob.objects.filter(id=push_job.id, status__in=ACTIVE_PUSH_STATUSES).update(
            status=PushStatus.ABORTED,
            step=PushStep.DONE,
            completion_time=now,
            error_message=f"Aborted by {who}.",
        )
        if not updated:
            push_job.refresh_from_db()
            raise Conflict(
                f"Push {push_job.id} is {push_job.status}; only PENDING or RUNNING pushes can be "
                "aborted.",
            )
        PushFile.objects.filter(job_id=push_job.id, status=PushFileStatus.PENDING).update(
            status=PushFileStatus.ABORTED,
            error="Not copied: the push was aborted.",
            completed_at=now,
        )
        push_job.refresh_from_db()
        _announce_terminal(push_job)
        if push_job.start_time is not None:
            _enqueue_end_marker(push_job.id)
    return push_job


# --- Task bodies ------------------------------------------------------------------------------------


def push_start(*, push_job_id: str) -> None:
    """Claim a PENDING job (or re-run an interrupted planning step): write check, ledger rows,
    start marker, then fan the files out to copier tasks."""
    now = timezone.now()
    claimed = PushJob.objects.filter(id=push_job_id, status=PushStatus.PENDING).update(
        status=PushStatus.RUNNING, step=PushStep.PLANNING, start_time=now, last_progress_time=now
    )
    job = PushJob.objects.select_related("package").filter(id=push_job_id).first()
    if job is None:
        return
    if not claimed and not (job.status == PushStatus.RUNNING and job.step == PushStep.PLANNING):
        return
    with job_context(job.id):
        if claimed:
            _publish(job)
        try:
            _plan(job)
        except (DomainError, icav2.Icav2Error) as exc:
            _fail(job, str(exc))
        except s3.S3_ERRORS as exc:
            _fail(job, f"S3 error while preparing the push: {s3_transfer.describe_error(exc)}")


def _writer(job: PushJob, api: icav2.Icav2Client | None = None) -> receipts.DestinationWriter:
    if job.destination_type == DestinationType.S3:
        return receipts.S3Writer(job.destination_bucket, job.destination_prefix)
    return icav2_transfer.writer_for(job, api)


def _plan(job: PushJob) -> None:
    package = job.package
    if package is None:
        raise DomainError("The package of this push was deleted.")
    api = None
    if job.destination_type == DestinationType.ICAV2:
        api = icav2.client()
        project = api.resolve_project(job.icav2_project)
        folder = api.ensure_folder(project.id, job.icav2_folder_path)
        job.icav2_project_id, job.icav2_folder_id = project.id, folder.id
        job.save(update_fields=["icav2_project_id", "icav2_folder_id"])
        logger.info("ICAv2 project %s (%s), folder %s", project.name, project.id, folder.id)
    writer = _writer(job, api)
    writer.write_check(job.id)
    if _destination_is_empty(writer):
        job.destination_was_empty = True
        job.save(update_fields=["destination_was_empty"])
    _create_ledger(job, package)
    totals = PushFile.objects.filter(job=job).aggregate(files=Count("id"), size=Sum("size"))
    job.file_count = totals["files"] or 0
    job.total_bytes = totals["size"] or 0
    receipts.write_start_marker(writer, job)
    updated = PushJob.objects.filter(
        id=job.id, status=PushStatus.RUNNING, step=PushStep.PLANNING
    ).update(
        step=PushStep.COPYING,
        file_count=job.file_count,
        total_bytes=job.total_bytes,
        last_progress_time=timezone.now(),
    )
    if updated:
        logger.info(
            "Pushing %d files (%d bytes) to %s", job.file_count, job.total_bytes, writer.label
        )
        _enqueue_copiers(job.id)


def _destination_is_empty(writer: receipts.DestinationWriter) -> bool:
    """False when unknown: then every file is looked up before it is copied."""
    try:
        return writer.is_empty()
    except s3.S3_ERRORS as exc:
        logger.info("Could not list the destination (%s); files will be looked up", exc)
        return False


def _create_ledger(job: PushJob, package: Package) -> None:
    """One PENDING row per package file, in key order (so a claimed batch's keys form one listing range).

    One INSERT ... SELECT in the database (no rows through Python: memory stays flat and 20,000
    files take milliseconds), then who the files are about, one UPDATE per group of libraries.
    Idempotent: rows that exist already are left alone (a resumed planning step)."""
    if job.destination_type == DestinationType.ICAV2:
        base_uri = f"icav2://{job.icav2_project_id}{job.icav2_folder_path}"
    else:
        base_uri = job.destination.uri
    ledger = PushFile._meta.db_table
    files = PackageFile._meta.db_table
    collation = '"C"' if connection.vendor == "postgresql" else "BINARY"
    sql = (
        f"INSERT INTO {ledger} (job_id, relative_path, data_type, source_bucket, source_key, "  # noqa: S608 - table names only
        "destination_uri, size, source_etag, source_md5, source_sha256, destination_etag, "
        "verification_method, status, attempts, error, claim_token, created_at, library_id, "
        "subject_id, external_subject_id, project_ids) "
        "SELECT %s, relative_path, data_type, source_bucket, source_key, %s || relative_path, "
        "size, etag, md5, sha256, '', '', %s, 0, '', '', %s, library_id, '', '', '' "
        f"FROM {files} WHERE package_id = %s ORDER BY relative_path COLLATE {collation} "
        "ON CONFLICT (job_id, relative_path) DO NOTHING"
    )
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(
                sql, [job.id, base_uri, PushFileStatus.PENDING, timezone.now(), package.id]
            )
        _set_ledger_identities(job, package_library_identities(package=package))
    PushJob.objects.filter(id=job.id).update(last_progress_time=timezone.now())


def _set_ledger_identities(job: PushJob, identities: dict[str, LibraryIdentity]) -> None:
    """Subject and project ids of each library onto the job's ledger rows."""
    table = PushFile._meta.db_table
    known = [
        (library_id, identity)
        for library_id, identity in identities.items()
        if identity.subject_id or identity.external_subject_id or identity.project_ids
    ]
    for start in range(0, len(known), 500):
        group = known[start : start + 500]
        values = " UNION ALL ".join(
            ["SELECT %s AS library_id, %s AS subject, %s AS external, %s AS projects"] * len(group)
        )
        params: list[Any] = []
        for library_id, identity in group:
            params += [
                library_id,
                identity.subject_id,
                identity.external_subject_id,
                join_project_ids(list(identity.project_ids)),
            ]
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {table} SET subject_id = v.subject, external_subject_id = v.external, "  # noqa: S608
                f"project_ids = v.projects FROM ({values}) AS v "
                f"WHERE {table}.job_id = %s AND {table}.library_id = v.library_id",
                [*params, job.id],
            )


def _enqueue_copiers(job_id: str) -> int:
    """Queue copier tasks for the job's PENDING files: one per PUSH_BATCH_SIZE files, at most
    PUSH_MAX_COPIERS (each copies until nothing is left). Returns how many."""
    from sharing_app.push import tasks

    pending = PushFile.objects.filter(job_id=job_id, status=PushFileStatus.PENDING).count()
    if not pending:
        _finish_if_done(job_id)
        return 0
    copiers = min(math.ceil(pending / max(1, settings.PUSH_BATCH_SIZE)), settings.PUSH_MAX_COPIERS)

    def send() -> None:
        for _ in range(copiers):
            tasks.push_copy.delay(job_id)

    transaction.on_commit(send)
    return copiers


def push_copy(*, push_job_id: str) -> None:
    """Copy PENDING files of a job until none is left; finalize if the job is complete."""
    from sharing_app.push import tasks

    with job_context(push_job_id):
        kind = (
            PushJob.objects.filter(id=push_job_id)
            .values_list("destination_type", flat=True)
            .first()
        )
        if kind is None:
            return
        if kind == DestinationType.S3:
            _, sliced = runner.run_copier(
                job_id=push_job_id,
                destination_key=lambda job, path: job.destination_prefix + path,
                make_transfer=s3_transfer.S3Transfer,
                concurrency=settings.PUSH_COPY_CONCURRENCY,
            )
        else:
            _, sliced = runner.run_copier(
                job_id=push_job_id,
                destination_key=lambda job, path: path,
                make_transfer=icav2_transfer.Icav2Transfer,
                # Bytes pass through the worker: fewer uploads at once bound its memory.
                concurrency=settings.ICAV2_UPLOAD_CONCURRENCY,
            )
        if (
            sliced
            and PushFile.objects.filter(job_id=push_job_id, status=PushFileStatus.PENDING).exists()
        ):
            # Our time slice is over: a successor continues after what else is queued.
            transaction.on_commit(lambda: tasks.push_copy.delay(push_job_id))
        _finish_if_done(push_job_id)


def _finish_if_done(job_id: str) -> None:
    from sharing_app.push import tasks

    if not PushJob.objects.filter(
        id=job_id, status=PushStatus.RUNNING, step=PushStep.COPYING
    ).exists():
        return
    if PushFile.objects.filter(job_id=job_id, status__in=UNFINISHED_FILE_STATUSES).exists():
        return
    transaction.on_commit(lambda: tasks.push_finalize.delay(job_id))


def push_finalize(*, push_job_id: str) -> None:
    """Once every file is settled: receipts (when all succeeded), end marker, final status."""
    claimed = PushJob.objects.filter(
        id=push_job_id, status=PushStatus.RUNNING, step=PushStep.COPYING
    ).update(step=PushStep.FINALIZING, last_progress_time=timezone.now())
    if not claimed:
        return
    job = PushJob.objects.select_related("package").get(id=push_job_id)
    with job_context(job.id):
        if PushFile.objects.filter(job=job, status__in=UNFINISHED_FILE_STATUSES).exists():
            PushJob.objects.filter(id=job.id, step=PushStep.FINALIZING).update(
                step=PushStep.COPYING
            )
            return
        counts = _ledger_counts(job)
        job.succeeded_count = counts[PushFileStatus.SUCCEEDED]
        job.skipped_count = counts[PushFileStatus.SKIPPED]
        job.failed_count = counts[PushFileStatus.FAILED]
        unfinished = counts[PushFileStatus.FAILED] + counts[PushFileStatus.ABORTED]
        error = _failure_summary(job, counts) if unfinished else ""
        writer: receipts.DestinationWriter | None = None
        try:
            writer = _writer(job)
            if not error and job.package is not None:
                receipts.write_receipts(writer, job.package)
        except (DomainError, icav2.Icav2Error, *s3.S3_ERRORS) as exc:
            error = (
                f"All {job.file_count} files were pushed and verified, but the receipts could not "
                f"be written: {exc}"
            )
        status = PushStatus.FAILED if error else PushStatus.SUCCEEDED
        job.status, job.error_message, job.completion_time = status, error, timezone.now()
        if writer is not None:
            try:
                receipts.write_end_marker(writer, job)
            except (DomainError, icav2.Icav2Error, *s3.S3_ERRORS) as exc:
                if status == PushStatus.SUCCEEDED:
                    status = PushStatus.FAILED
                    error = f"All files were pushed and verified, but the end marker could not be written: {exc}"
                else:
                    logger.warning("Could not write the end marker: %s", exc)
        _set_terminal(
            job.id,
            status,
            error,
            succeeded_count=job.succeeded_count,
            skipped_count=job.skipped_count,
            failed_count=job.failed_count,
        )
        logger.info("Push finished: %s %s", status, error)


def push_write_end_marker(*, push_job_id: str) -> None:
    """Best effort: the end marker of a job that ended outside finalize (aborted, reconciled)."""
    job = PushJob.objects.filter(id=push_job_id).first()
    if job is None or not job.is_terminal:
        return
    with job_context(job.id):
        try:
            receipts.write_end_marker(_writer(job), job)
        except (DomainError, icav2.Icav2Error, *s3.S3_ERRORS) as exc:
            logger.warning("Could not write the end marker: %s", exc)


def _ledger_counts(job: PushJob) -> Counter[str]:
    return Counter(
        {
            row["status"]: row["n"]
            for row in PushFile.objects.filter(job=job).values("status").annotate(n=Count("id"))
        }
    )


def _failure_summary(job: PushJob, counts: Counter[str]) -> str:
    failed = counts[PushFileStatus.FAILED]
    aborted = counts[PushFileStatus.ABORTED]
    examples = [
        f"{path}: {error}"
        for path, error in PushFile.objects.filter(job=job, status=PushFileStatus.FAILED)
        .order_by("relative_path")
        .values_list("relative_path", "error")[:5]
    ]
    parts = [f"{failed} of {job.file_count} files failed"]
    if aborted:
        parts.append(f"{aborted} were not copied")
    message = ", ".join(parts) + "."
    if examples:
        message += " " + "; ".join(examples) + ("; ..." if failed > len(examples) else "")
    return (
        message
        + f" Every file is listed at /api/v1/push/{job.id}/files?status=FAILED; pushing again "
        "skips the files already there."
    )


# --- Terminal states, events, hooks ----------------------------------------------------------------


def _event_detail(job: PushJob) -> dict[str, Any]:
    return {
        "id": job.id,
        "packageId": job.package_id,
        "packageName": job.package_name,
        "shareDestination": job.share_destination,
        "status": job.status,
        "requestTime": job.request_time.isoformat(),
        "startTime": job.start_time.isoformat() if job.start_time else None,
        "completionTime": job.completion_time.isoformat() if job.completion_time else None,
        "fileCount": job.file_count,
        "succeededCount": job.succeeded_count,
        "skippedCount": job.skipped_count,
        "failedCount": job.failed_count,
        "errorMessage": job.error_message,
    }


def _publish(job: PushJob) -> None:
    aws_events.publish_on_commit(EVENT_DETAIL_TYPE, _event_detail(job))


def _announce_terminal(job: PushJob) -> None:
    _publish(job)
    hooks.fire_on_commit(hooks.PUSH_FINISHED, push_job_id=job.id, status=job.status)


def _set_terminal(job_id: str, status: str, error: str, **counts: int) -> bool:
    """Move an active job to a terminal status (once); announce it."""
    with transaction.atomic():
        updated = PushJob.objects.filter(id=job_id, status__in=ACTIVE_PUSH_STATUSES).update(
            status=status,
            step=PushStep.DONE,
            completion_time=timezone.now(),
            error_message=error,
            last_progress_time=timezone.now(),
            **counts,
        )
        if updated:
            _announce_terminal(PushJob.objects.get(id=job_id))
    return bool(updated)


def _fail(job: PushJob, message: str) -> None:
    logger.warning("Push failed: %s", message)
    with transaction.atomic():
        if _set_terminal(job.id, PushStatus.FAILED, message):
            PushFile.objects.filter(job_id=job.id, status=PushFileStatus.PENDING).update(
                status=PushFileStatus.ABORTED,
                error="Not copied: the push failed first.",
                completed_at=timezone.now(),
            )


def _enqueue_start(job_id: str) -> None:
    from sharing_app.push import tasks

    transaction.on_commit(lambda: tasks.push_start.delay(job_id))


def _enqueue_end_marker(job_id: str) -> None:
    from sharing_app.push import tasks

    transaction.on_commit(lambda: tasks.push_write_end_marker.delay(job_id))


# --- Reconciliation (periodic) -----------------------------------------------------------------------


def push_reconcile(*, now: dt.datetime | None = None) -> dict[str, int]:
    """Recover from lost workers and messages; fail jobs that resuming does not help.

    1. Files IN_PROGRESS whose heartbeat is older than PUSH_STALE_AFTER_SECONDS lost their worker:
       back to PENDING (or FAILED after PUSH_FILE_MAX_ATTEMPTS claims; ABORTED when the job ended).
    2. Active jobs without progress for PUSH_STALE_AFTER_SECONDS are resumed (their step is queued
       again); after PUSH_MAX_RESUMES resumes without progress they are failed with an explanation.
    """
    now = now or timezone.now()
    cutoff = now - dt.timedelta(seconds=settings.PUSH_STALE_AFTER_SECONDS)
    result: Counter[str] = Counter()
    stale_files = PushFile.objects.filter(
        status=PushFileStatus.IN_PROGRESS, heartbeat_at__lt=cutoff
    )
    for job_id, job_status in (
        stale_files.values_list("job_id", "job__status").distinct().order_by("job_id")[:1000]
    ):
        rows = stale_files.filter(job_id=job_id)
        if job_status != PushStatus.RUNNING:
            result["files_aborted"] += rows.update(
                status=PushFileStatus.ABORTED,
                error=f"Not copied: its worker was lost and the push is {job_status}.",
                completed_at=now,
                claim_token="",
            )
            continue
        result["files_failed"] += rows.filter(attempts__gte=settings.PUSH_FILE_MAX_ATTEMPTS).update(
            status=PushFileStatus.FAILED,
            error=f"Its worker was lost {settings.PUSH_FILE_MAX_ATTEMPTS} times while copying it.",
            completed_at=now,
            claim_token="",
        )
        result["files_requeued"] += rows.update(status=PushFileStatus.PENDING, claim_token="")
        logger.info("Push %s: files of a lost worker handed out again", job_id)
    stale_jobs: QuerySet[PushJob] = PushJob.objects.filter(
        status__in=ACTIVE_PUSH_STATUSES, last_progress_time__lt=cutoff
    ).order_by("last_progress_time")[:200]
    for job in stale_jobs:
        with job_context(job.id):
            result[_resume_or_fail(job, now)] += 1
    return {key: count for key, count in result.items() if count}


def _resume_or_fail(job: PushJob, now: dt.datetime) -> str:
    from sharing_app.push import tasks

    if job.resume_count >= settings.PUSH_MAX_RESUMES:
        unfinished = PushFile.objects.filter(job=job, status__in=UNFINISHED_FILE_STATUSES).count()
        message = (
            f"No progress since {job.last_progress_time:%Y-%m-%d %H:%M:%S} UTC (step "
            f"{job.step}) despite {job.resume_count} automatic resumes; {unfinished} of "
            f"{job.file_count} files unfinished. Are workers running? Push again to finish: files "
            "already at the destination are skipped."
        )
        with transaction.atomic():
            if _set_terminal(job.id, PushStatus.FAILED, message):
                PushFile.objects.filter(job=job, status__in=UNFINISHED_FILE_STATUSES).update(
                    status=PushFileStatus.ABORTED,
                    error="Not copied: the push was failed by reconciliation.",
                    completed_at=now,
                    claim_token="",
                )
                if job.step not in (PushStep.QUEUED, PushStep.PLANNING):
                    _enqueue_end_marker(job.id)
        return "jobs_failed"
    claimed = PushJob.objects.filter(
        id=job.id, status=job.status, step=job.step, last_progress_time=job.last_progress_time
    ).update(resume_count=F("resume_count") + 1, last_progress_time=now)
    if not claimed:
        return "jobs_busy"
    logger.warning(
        "Push without progress since %s; resuming step %s", job.last_progress_time, job.step
    )
    if job.status == PushStatus.PENDING or job.step == PushStep.PLANNING:
        _enqueue_start(job.id)
    elif job.step == PushStep.COPYING:
        _enqueue_copiers(job.id)
    elif job.step == PushStep.FINALIZING:
        PushJob.objects.filter(id=job.id, step=PushStep.FINALIZING).update(step=PushStep.COPYING)
        transaction.on_commit(lambda: tasks.push_finalize.delay(job.id))
    return "jobs_resumed"
