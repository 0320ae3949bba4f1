"""Push job state changes, the queueing of each step, and what the stuck-job reaper does with
pushes.

Lifecycle: PENDING -> RUNNING -> SUCCEEDED | FAILED | ABORTED (ABORTED from PENDING or RUNNING).
Steps of a RUNNING job: planning -> copying -> finalizing. Every change is a conditional update
through the shared job lifecycle (`datasharing.jobs`), announced after commit (an EventBridge
event; PUSH_FINISHED for terminal states). Steps are queued by task name, so services never
import the tasks module that imports them.

The reaper (one beat entry for every kind of job, `datasharing.jobs.jobs_reap`), for pushes:
1. Files IN_PROGRESS whose heartbeat is older than PUSH_STALE_AFTER_SECONDS lost their worker:
   back to PENDING, and copiers are queued for them at once (FAILED after PUSH_FILE_MAX_ATTEMPTS
   claims; ABORTED when the job already ended).
2. Active jobs without progress for PUSH_STALE_AFTER_SECONDS (ten times that while planning or
   finalizing) are resumed (their step is queued again); each further resume waits twice as long (at most PUSH_RESUME_BACKOFF_MAX_SECONDS), so a
   push queued behind other work is not failed for waiting. After PUSH_MAX_RESUMES resumes, a
   job still without progress is failed with an explanation.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from collections import Counter
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from datasharing import aws_events, hooks, jobs
from sharing_app.push.models import (
    ACTIVE_PUSH_STATUSES,
    TERMINAL_PUSH_STATUSES,
    PushFile,
    PushFileStatus,
    PushJob,
    PushStatus,
    PushStep,
)

logger = logging.getLogger(__name__)

EVENT_DETAIL_TYPE = "DataPushJobStateChange"
UNFINISHED_FILE_STATUSES = (PushFileStatus.PENDING, PushFileStatus.IN_PROGRESS)

# Celery task names (registered in sharing_app.push.tasks).
PUSH_START_TASK = "sharing_app.push_start"
PUSH_COPY_TASK = "sharing_app.push_copy"
PUSH_FINALIZE_TASK = "sharing_app.push_finalize"
PUSH_END_MARKER_TASK = "sharing_app.push_write_end_marker"


# --- Announcements ---------------------------------------------------------------------------------


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


def push_announce(job: PushJob) -> None:
    """After commit: the state-change event, and PUSH_FINISHED once the job is terminal."""
    aws_events.publish_on_commit(EVENT_DETAIL_TYPE, _event_detail(job))
    if job.is_terminal:
        hooks.fire_on_commit(hooks.PUSH_FINISHED, push_job_id=job.id, status=job.status)


PUSH_JOBS = jobs.Lifecycle(
    label="push",
    model=PushJob,
    pending=PushStatus.PENDING,
    running=PushStatus.RUNNING,
    failed=PushStatus.FAILED,
    active=ACTIVE_PUSH_STATUSES,
    terminal=TERMINAL_PUSH_STATUSES,
    announce=push_announce,
    related=("package",),
)


# --- Terminal states -------------------------------------------------------------------------------


def push_set_terminal(
    job_id: str, status: str, error: str, *, where: dict[str, Any] | None = None, **counts: int
) -> bool:
    """Move an active job to a terminal status (once, step done); announce it."""
    return (
        PUSH_JOBS.transition(
            job_id,
            from_statuses=ACTIVE_PUSH_STATUSES,
            to_status=status,
            where=where,
            step=PushStep.DONE,
            error_message=error,
            **counts,
        )
        is not None
    )


def push_fail(job_id: str, message: str) -> None:
    """FAILED; files not started yet are recorded as not copied."""
    logger.warning("Push failed: %s", message)
    with transaction.atomic():
        if push_set_terminal(job_id, PushStatus.FAILED, message):
            PushFile.objects.filter(job_id=job_id, status=PushFileStatus.PENDING).update(
                status=PushFileStatus.ABORTED,
                error="Not copied: the push failed first.",
                completed_at=timezone.now(),
            )


# --- Queueing the steps ----------------------------------------------------------------------------


def push_start_enqueue(job_id: str) -> None:
    jobs.enqueue_on_commit(PUSH_START_TASK, job_id)


def push_end_marker_enqueue(job_id: str) -> None:
    jobs.enqueue_on_commit(PUSH_END_MARKER_TASK, job_id)


def push_copy_enqueue(job_id: str) -> None:
    """One more copier (a successor whose predecessor's time slice ended)."""
    jobs.enqueue_on_commit(PUSH_COPY_TASK, job_id)


def push_copiers_enqueue(job_id: str) -> int:
    """Queue copier tasks for the job's PENDING files: one per PUSH_BATCH_SIZE files, at most
    PUSH_MAX_COPIERS (each copies until nothing is left). Returns how many."""
    pending = PushFile.objects.filter(job_id=job_id, status=PushFileStatus.PENDING).count()
    if not pending:
        push_finalize_if_done(job_id)
        return 0
    copiers = min(math.ceil(pending / max(1, settings.PUSH_BATCH_SIZE)), settings.PUSH_MAX_COPIERS)
    for _ in range(copiers):
        jobs.enqueue_on_commit(PUSH_COPY_TASK, job_id)
    return copiers


def push_finalize_if_done(job_id: str) -> None:
    """Queue the last step once no file of a copying job is left unfinished."""
    if not PushJob.objects.filter(
        id=job_id, status=PushStatus.RUNNING, step=PushStep.COPYING
    ).exists():
        return
    if PushFile.objects.filter(job_id=job_id, status__in=UNFINISHED_FILE_STATUSES).exists():
        return
    jobs.enqueue_on_commit(PUSH_FINALIZE_TASK, job_id)


# --- Stuck pushes: the reaper's rules --------------------------------------------------------------


# Planning and finalizing run in one thread that shows progress only between remote calls
# (ICAv2's API, the write check, receipts), each with retries of its own: they get this many times
# PUSH_STALE_AFTER_SECONDS before the reaper takes them for lost. Copying heartbeats on a timer.
SINGLE_THREADED_STEP_FACTOR = 10


def _stale_limit() -> dt.timedelta:
    return dt.timedelta(seconds=settings.PUSH_STALE_AFTER_SECONDS)


def _stale_after(status: str, step: str, resumes: int) -> dt.timedelta:
    """PUSH_STALE_AFTER_SECONDS (longer for planning and finalizing), doubled for each resume so
    far, at most PUSH_RESUME_BACKOFF_MAX_SECONDS."""
    base = settings.PUSH_STALE_AFTER_SECONDS
    if status == PushStatus.RUNNING and step in (PushStep.PLANNING, PushStep.FINALIZING):
        base *= SINGLE_THREADED_STEP_FACTOR
    cap = max(base, settings.PUSH_RESUME_BACKOFF_MAX_SECONDS)
    return dt.timedelta(seconds=jobs.backoff_seconds(resumes + 1, base=base, cap=cap))


def _hand_back_lost_files(now: dt.datetime) -> Counter[str]:
    """Files whose copier stopped heartbeating: to another copier, or settled when the job ended
    or the file lost its worker too often. Copiers are queued at once for files handed back."""
    result: Counter[str] = Counter()
    stale_files = PushFile.objects.filter(
        status=PushFileStatus.IN_PROGRESS, heartbeat_at__lt=now - _stale_limit()
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
        requeued = rows.update(status=PushFileStatus.PENDING, claim_token="")
        result["files_requeued"] += requeued
        logger.info("Push %s: %d files of a lost worker handed out again", job_id, requeued)
        if PushJob.objects.filter(id=job_id, step=PushStep.COPYING).exists():
            push_copiers_enqueue(job_id)
    return result


def _recover(stuck: jobs.StuckJob) -> str:
    """Queue the job's step again, or fail it after PUSH_MAX_RESUMES resumes."""
    if stuck.retries >= settings.PUSH_MAX_RESUMES:
        return _fail_stuck(stuck)
    resumed = PushJob.objects.filter(id=stuck.id, last_progress_time=stuck.claimed_at).update(
        resume_count=F("resume_count") + 1
    )
    if not resumed:
        return "busy"
    logger.warning(
        "Push %s without progress since %s; resuming step %s",
        stuck.id,
        stuck.last_progress_time,
        stuck.step,
    )
    if stuck.status == PushStatus.PENDING or stuck.step == PushStep.PLANNING:
        push_start_enqueue(stuck.id)
    elif stuck.step == PushStep.COPYING:
        push_copiers_enqueue(stuck.id)
    elif stuck.step == PushStep.FINALIZING:
        PushJob.objects.filter(id=stuck.id, step=PushStep.FINALIZING).update(step=PushStep.COPYING)
        jobs.enqueue_on_commit(PUSH_FINALIZE_TASK, stuck.id)
    return "resumed"


def _fail_stuck(stuck: jobs.StuckJob) -> str:
    file_count = PushJob.objects.filter(id=stuck.id).values_list("file_count", flat=True).first()
    unfinished = PushFile.objects.filter(job_id=stuck.id, status__in=UNFINISHED_FILE_STATUSES)
    message = (
        f"No progress since {stuck.last_progress_time:%Y-%m-%d %H:%M:%S} UTC (step "
        f"{stuck.step}) despite {stuck.retries} automatic resumes; {unfinished.count()} of "
        f"{file_count} files unfinished. Are workers running? Push again to finish: files "
        "already at the destination are skipped."
    )
    with transaction.atomic():
        failed = push_set_terminal(
            stuck.id,
            PushStatus.FAILED,
            message,
            where={"last_progress_time": stuck.claimed_at},
        )
        if not failed:
            return "busy"
        unfinished.update(
            status=PushFileStatus.ABORTED,
            error="Not copied: the push was failed by reconciliation.",
            completed_at=timezone.now(),
            claim_token="",
        )
        if stuck.step not in (PushStep.QUEUED, PushStep.PLANNING):
            push_end_marker_enqueue(stuck.id)
    return "failed"


PUSH_JOB_KIND = jobs.JobKind(
    name="push",
    lifecycle=PUSH_JOBS,
    watched=ACTIVE_PUSH_STATUSES,
    stale_after=_stale_after,
    min_stale_after=_stale_limit,
    recover=_recover,
    retries_field="resume_count",
    sweep=_hand_back_lost_files,
    outcome_prefix="jobs_",
)
