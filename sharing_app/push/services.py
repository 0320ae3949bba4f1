"""Push jobs: create, start (write check, start marker, ledger), copy (copier tasks), finalize
(receipts, end marker), abort, and the stuck-push reaper run on its own.

State changes, the queueing of steps and the reaper's rules are in `lifecycle`. Every transition
is a conditional UPDATE, so a task delivered twice, or run again by the reaper after a worker
died, does nothing twice.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.db import IntegrityError, connection, transaction
from django.db.models import Count, Sum
from django.db.models.functions import Length
from django.utils import timezone

from datasharing import jobs, s3
from datasharing.errors import Conflict, DomainError
from datasharing.jobs import db_datetime
from datasharing.logs import job_context
from datasharing.ownership import require_owner_or_admin
from packages_app.models import Package, PackageFile
from packages_app.selectors import package_archived_files, package_require_shareable
from sharing_app.destinations.destination import S3, Destination, check_relative_paths_fit
from sharing_app.destinations.policy import require_destination_allowed
from sharing_app.push import icav2, icav2_transfer, receipts, runner, s3_transfer
from sharing_app.push.lifecycle import (
    PUSH_JOB_KIND,
    PUSH_JOBS,
    UNFINISHED_FILE_STATUSES,
    push_announce,
    push_copiers_enqueue,
    push_copy_enqueue,
    push_end_marker_enqueue,
    push_fail,
    push_finalize_if_done,
    push_set_terminal,
    push_start_enqueue,
)
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
    _require_pushable_files(package, destination)
    with transaction.atomic():
        job = _create_job(package, destination, _job_fields(package, destination, user))
        push_announce(job)
        push_start_enqueue(job.id)
    logger.info(
        "Push %s of %s to %s created by %s",
        job.id,
        package.id,
        job.share_destination,
        job.requested_by_name,
    )
    return job


def _require_pushable_files(package: Package, destination: Destination) -> None:
    """409 when files are archived or would overwrite the receipts; 400 when a path is too long
    for the destination."""
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


def _job_fields(package: Package, destination: Destination, user: Any) -> dict[str, Any]:
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
        return fields | {
            "destination_type": DestinationType.S3,
            "destination_bucket": destination.bucket,
            "destination_prefix": destination.prefix,
        }
    return fields | {
        "destination_type": DestinationType.ICAV2,
        "icav2_project": destination.project,
        "icav2_project_id": destination.project if destination.project_is_id else "",
        "icav2_folder_path": destination.folder_path,
    }


def _create_job(package: Package, destination: Destination, fields: dict[str, Any]) -> PushJob:
    """The new PENDING job; 409 naming the active push of this package to this destination."""
    try:
        with transaction.atomic():
            return PushJob.objects.create(**fields)
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


def push_abort(*, push_job: PushJob, user: User | None) -> PushJob:
    """Stop a PENDING or RUNNING push (409 otherwise): only its requester or an admin (403; None:
    the system). Files being copied finish; the others are recorded as ABORTED; the end marker
    says so. An automatic push without approval has no requester: admins abort it."""
    require_owner_or_admin(
        user=user,
        owner_id=push_job.requested_by_id,
        owner_name=push_job.requested_by_name,
        thing=f"Push {push_job.id}",
        made="requested",
        action="abort",
    )
    who = getattr(user, "username", "") or "the system"
    with transaction.atomic():
        aborted = PUSH_JOBS.transition(
            push_job.id,
            from_statuses=ACTIVE_PUSH_STATUSES,
            to_status=PushStatus.ABORTED,
            step=PushStep.DONE,
            error_message=f"Aborted by {who}.",
        )
        if aborted is None:
            push_job.refresh_from_db()
            raise Conflict(
                f"Push {push_job.id} is {push_job.status}; only PENDING or RUNNING pushes can be "
                "aborted.",
            )
        PushFile.objects.filter(job_id=push_job.id, status=PushFileStatus.PENDING).update(
            status=PushFileStatus.ABORTED,
            error="Not copied: the push was aborted.",
            completed_at=aborted.completion_time,
        )
        if aborted.start_time is not None:
            push_end_marker_enqueue(push_job.id)
    push_job.refresh_from_db()
    return push_job


# --- Task bodies ------------------------------------------------------------------------------------


def push_start(*, push_job_id: str) -> None:
    """Claim a PENDING job (or re-run an interrupted planning step): write check, ledger rows,
    start marker, then fan the files out to copier tasks."""
    job = PUSH_JOBS.transition(
        push_job_id,
        from_statuses=[PushStatus.PENDING],
        to_status=PushStatus.RUNNING,
        step=PushStep.PLANNING,
        start_time=timezone.now(),
    )
    if job is None:
        job = PushJob.objects.select_related("package").filter(id=push_job_id).first()
        if job is None or not (job.status == PushStatus.RUNNING and job.step == PushStep.PLANNING):
            return
    with job_context(job.id):
        try:
            _plan(job)
        except (DomainError, icav2.Icav2Error) as exc:
            push_fail(job.id, str(exc))
        except s3.S3_ERRORS as exc:
            push_fail(
                job.id, f"S3 error while preparing the push: {s3_transfer.describe_error(exc)}"
            )


def _planning_progress(job: PushJob) -> None:
    """A sign of life between planning's slow parts (remote APIs with their own retries), so the
    reaper does not take a live planning step for a lost one."""
    PUSH_JOBS.progress(job.id, statuses=[PushStatus.RUNNING])


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
        _planning_progress(job)
    writer = _writer(job, api)
    writer.write_check(job.id)
    _planning_progress(job)
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
        push_copiers_enqueue(job.id)


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
                sql,
                [job.id, base_uri, PushFileStatus.PENDING, db_datetime(timezone.now()), package.id],
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


def push_copy(*, push_job_id: str) -> None:
    """Copy PENDING files of a job until none is left; finalize if the job is complete."""
    with job_context(push_job_id):
        kind = (
            PushJob.objects.filter(id=push_job_id)
            .values_list("destination_type", flat=True)
            .first()
        )
        if kind is None:
            return
        if kind == DestinationType.S3:
            run = runner.run_copier(
                job_id=push_job_id,
                destination_key=lambda job, path: job.destination_prefix + path,
                make_transfer=s3_transfer.S3Transfer,
                concurrency=settings.PUSH_COPY_CONCURRENCY,
            )
        else:
            run = runner.run_copier(
                job_id=push_job_id,
                destination_key=lambda job, path: path,
                make_transfer=icav2_transfer.Icav2Transfer,
                # Bytes pass through the worker: fewer uploads at once bound its memory.
                concurrency=settings.ICAV2_UPLOAD_CONCURRENCY,
            )
        if (
            run.sliced
            and PushFile.objects.filter(job_id=push_job_id, status=PushFileStatus.PENDING).exists()
        ):
            # Our time slice is over: a successor continues after what else is queued.
            push_copy_enqueue(push_job_id)
        push_finalize_if_done(push_job_id)


def push_finalize(*, push_job_id: str) -> None:
    """Once every file is settled: receipts (when all succeeded), end marker, final status."""
    claimed = PUSH_JOBS.claim(
        push_job_id,
        from_statuses=[PushStatus.RUNNING],
        where={"step": PushStep.COPYING},
        step=PushStep.FINALIZING,
        last_progress_time=timezone.now(),
    )
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
                PUSH_JOBS.progress(job.id, statuses=[PushStatus.RUNNING])
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
        push_set_terminal(
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


# --- Stuck pushes -----------------------------------------------------------------------------------


def push_reconcile(*, now: dt.datetime | None = None) -> dict[str, int]:
    """Recover from lost workers and messages; fail pushes that resuming does not help (the rules
    are in `lifecycle`). The one reaper (`datasharing.jobs.jobs_reap`, beat) does this for every
    kind of job; this runs it for pushes only. Counts of what happened, without zeros."""
    return jobs.reap_kind(PUSH_JOB_KIND.name, now=now)
