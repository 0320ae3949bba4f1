"""One lifecycle for background jobs (packages, pushes): claims, transitions, progress stamps,
retries with backoff, enqueueing by task name, and the one reaper for jobs a worker left behind.

A job is a model row with `status`, `step`, `last_progress_time` and, once terminal,
`completion_time` and `error_message`. Every state change is a conditional UPDATE that happens
only while the row is still in a state the caller expects, so two workers (or a worker and the
reaper, or an abort) never both act on one change.

This is the lowest layer: it imports no app. An app describes its jobs with a `Lifecycle` and,
for the reaper, a `JobKind` it registers from its `AppConfig.ready()`. Services queue their next
step with `enqueue_on_commit(task_name, ...)` rather than importing their tasks module (which
imports them).

Datetimes that raw SQL writes or compares go through `db_datetime`: on SQLite the ORM stores
`YYYY-MM-DD HH:MM:SS[.ffffff]` (naive UTC text) while Python's sqlite3 adapter would write
`...+00:00`, and a conditional UPDATE keyed on a timestamp compares text, so it would never match.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from celery import Task
from django.db import connection, models, transaction
from django.utils import timezone

logger = logging.getLogger(__name__)

M = TypeVar("M", bound=models.Model)

MAX_ERROR_MESSAGE_CHARS = 10_000


# --- One representation of datetimes -------------------------------------------------------------


def db_datetime(value: dt.datetime) -> Any:
    """`value` exactly as the ORM writes a DateTimeField on this database (and so as the ORM's
    lookups compare it): the parameter every raw SQL statement uses for a datetime."""
    if timezone.is_naive(value):
        raise ValueError(f"naive datetime {value!r}: use django.utils.timezone.now()")
    return connection.ops.adapt_datetimefield_value(value)


# --- Enqueueing by task name ----------------------------------------------------------------------


def task_named(name: str) -> Task:
    """The Celery task registered as `name`, importing the apps' task modules on first use (a web
    process has not imported them yet). KeyError when no tasks module registers `name`."""
    from datasharing.celery import TASK_PACKAGES, app

    if name not in app.tasks:
        app.autodiscover_tasks(TASK_PACKAGES, force=True)
    return app.tasks[name]


def enqueue(task_name: str, *args: Any, countdown: float | None = None) -> None:
    """Queue the task now (run in this process when CELERY_TASK_ALWAYS_EAGER)."""
    task_named(task_name).apply_async(args=list(args), countdown=countdown)


def enqueue_on_commit(task_name: str, *args: Any, countdown: float | None = None) -> None:
    """Queue the task once the current transaction commits (at once outside a transaction), so a
    worker never looks for rows that are not committed yet."""
    transaction.on_commit(lambda: enqueue(task_name, *args, countdown=countdown))


# --- Retries --------------------------------------------------------------------------------------


def backoff_seconds(attempt: int, *, base: float, cap: float, jitter: bool = False) -> float:
    """Exponential backoff: `base` before the first retry (attempt 1), doubled for each further
    attempt, never more than `cap`. With `jitter`, a uniform draw from the upper half, so workers
    retrying together spread out."""
    ceiling = min(cap, base * 2 ** max(0, attempt - 1))
    return random.uniform(ceiling / 2, ceiling) if jitter else ceiling


@dataclass(frozen=True)
class RetryPolicy:
    """Attempts in all, and the exponential backoff between them (see `backoff_seconds`)."""

    max_attempts: int
    base_seconds: float
    max_seconds: float


# --- Lifecycle of one kind of job -----------------------------------------------------------------


@dataclass(frozen=True)
class Lifecycle(Generic[M]):
    """The states of one job model, and how its state changes are announced.

    `announce(job)` is called inside the transaction of every transition with the updated row;
    announcers publish with `transaction.on_commit`, so nothing is announced that did not happen.
    """

    label: str
    model: type[M]
    pending: str
    running: str
    failed: str
    active: tuple[str, ...]
    terminal: tuple[str, ...]
    announce: Callable[[M], None]
    related: tuple[str, ...] = ()

    def claim(
        self,
        job_id: str,
        *,
        from_statuses: Iterable[str],
        where: Mapping[str, Any] | None = None,
        **values: Any,
    ) -> bool:
        """Write `values` if the job is in one of `from_statuses` (and matches `where`): True when
        this caller won the row, False when someone else moved it first."""
        updated = self.model._default_manager.filter(
            pk=job_id, status__in=list(from_statuses), **(where or {})
        ).update(**values)
        return updated == 1

    def transition(
        self,
        job_id: str,
        *,
        from_statuses: Iterable[str],
        to_status: str,
        where: Mapping[str, Any] | None = None,
        **fields: Any,
    ) -> M | None:
        """Move the job to `to_status` if it is in one of `from_statuses`; stamp progress, set the
        completion time of a terminal state, cut the error message to a storable length, and
        announce the change after commit. Returns the updated job, or None (not in such a state)."""
        now = timezone.now()
        values: dict[str, Any] = {"status": to_status, "last_progress_time": now, **fields}
        if to_status in self.terminal:
            values.setdefault("completion_time", now)
        if isinstance(values.get("error_message"), str):
            values["error_message"] = values["error_message"][:MAX_ERROR_MESSAGE_CHARS]
        with transaction.atomic():
            if not self.claim(job_id, from_statuses=from_statuses, where=where, **values):
                return None
            job = self.model._default_manager.select_related(*self.related).get(pk=job_id)
            self.announce(job)
        logger.info("%s %s is now %s (%s)", self.label, job_id, to_status, values.get("step", ""))
        return job

    def progress(self, job_id: str, *, statuses: Iterable[str], **fields: Any) -> bool:
        """Stamp `last_progress_time` (and write `fields`) while the job is in one of `statuses`.
        False when it left them (aborted, failed elsewhere): the caller stops working on it."""
        updated = self.model._default_manager.filter(pk=job_id, status__in=list(statuses)).update(
            last_progress_time=timezone.now(), **fields
        )
        return updated == 1

    def fail(self, job_id: str, *, error_message: str, **fields: Any) -> M | None:
        """FAILED with a message a person can act on, from any active state."""
        logger.warning("%s %s failed: %s", self.label, job_id, error_message)
        return self.transition(
            job_id,
            from_statuses=self.active,
            to_status=self.failed,
            error_message=error_message,
            **fields,
        )

    def retry_or_fail(
        self,
        job_id: str,
        *,
        attempt: int,
        policy: RetryPolicy,
        reason: str,
        requeue: Callable[[float], None],
        **fields: Any,
    ) -> float | None:
        """After attempt `attempt` (1-based) failed transiently: back to pending and `requeue` it
        after an exponential backoff, or fail the job once `policy.max_attempts` are used up.
        Returns the countdown of the retry, or None when there is none (failed, or moved on)."""
        if attempt < policy.max_attempts:
            countdown = backoff_seconds(attempt, base=policy.base_seconds, cap=policy.max_seconds)
            released = self.transition(
                job_id,
                from_statuses=[self.running],
                to_status=self.pending,
                error_message=f"Attempt {attempt} failed ({reason}); retrying.",
                **fields,
            )
            if released is None:
                return None
            logger.warning(
                "%s %s: attempt %d failed (%s); retrying in %ss",
                self.label,
                job_id,
                attempt,
                reason,
                countdown,
            )
            requeue(countdown)
            return countdown
        self.fail(job_id, error_message=f"Failed after {attempt} attempt(s); last error: {reason}")
        return None


# --- The reaper -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class StuckJob:
    """A job the reaper found without progress, and claimed: its `last_progress_time` now holds
    `claimed_at`, so a recovery keyed on it (`where={"last_progress_time": claimed_at}`) does
    nothing if the job's worker shows a sign of life meanwhile."""

    id: str
    status: str
    step: str
    last_progress_time: dt.datetime  # the last sign of life before the reaper took it
    retries: int
    claimed_at: dt.datetime


@dataclass(frozen=True)
class JobKind:
    """What the reaper needs to know about one kind of job.

    - `watched`: statuses in which a job must keep showing progress.
    - `stale_after(status, step, retries)`: the silence after which such a job counts as stuck;
      `retries` is the value of `retries_field` (e.g. resumes so far), 0 without one.
    - `min_stale_after()`: the shortest of those (the database is asked for jobs silent that long,
      then each is held to its own limit).
    - `recover(stuck)`: resume or fail a claimed job; returns the outcome to count.
    - `sweep(now)`: kind-specific work before jobs are looked at (e.g. handing back file claims
      of lost workers); returns counts.
    - `outcome_prefix`: prefixed to the outcomes counted for jobs (e.g. "jobs_").
    """

    name: str
    lifecycle: Lifecycle[Any]
    watched: tuple[str, ...]
    stale_after: Callable[[str, str, int], dt.timedelta]
    min_stale_after: Callable[[], dt.timedelta]
    recover: Callable[[StuckJob], str]
    retries_field: str | None = None
    sweep: Callable[[dt.datetime], Mapping[str, int]] | None = None
    outcome_prefix: str = ""
    batch: int = 200


_kinds: dict[str, JobKind] = {}


def register_job_kind(kind: JobKind) -> None:
    """Called from an app's `AppConfig.ready()`; registering a kind again replaces it."""
    _kinds[kind.name] = kind


def job_kinds() -> list[JobKind]:
    return sorted(_kinds.values(), key=lambda kind: kind.name)


def jobs_reap(*, now: dt.datetime | None = None) -> dict[str, dict[str, int]]:
    """Beat: find stuck jobs of every registered kind and resume or fail them by the kind's rules.
    Returns the counts of what happened, per kind (kinds where nothing happened are left out)."""
    now = now or timezone.now()
    results = {kind.name: reap_kind(kind.name, now=now) for kind in job_kinds()}
    return {name: counts for name, counts in results.items() if counts}


def reap_kind(name: str, *, now: dt.datetime | None = None) -> dict[str, int]:
    """The reaper for one kind of job. Counts of what happened, without zeros."""
    kind = _kinds[name]
    now = now or timezone.now()
    counts: Counter[str] = Counter()
    if kind.sweep is not None:
        counts.update(kind.sweep(now))
    for row in _stuck_candidates(kind, now):
        counts[kind.outcome_prefix + _reap_one(kind, row, now)] += 1
    result = {outcome: count for outcome, count in counts.items() if count}
    if result:
        logger.warning("stuck %s jobs: %s", kind.name, result)
    return result


_SNAPSHOT_FIELDS = ("pk", "status", "step", "last_progress_time")


def _stuck_candidates(kind: JobKind, now: dt.datetime) -> list[dict[str, Any]]:
    """Jobs silent for longer than their own limit, longest silent first."""
    fields = [*_SNAPSHOT_FIELDS, *([kind.retries_field] if kind.retries_field else [])]
    rows = (
        kind.lifecycle.model._default_manager.filter(
            status__in=kind.watched, last_progress_time__lt=now - kind.min_stale_after()
        )
        .order_by("last_progress_time")
        .values(*fields)[: kind.batch]
    )
    return [
        row
        for row in rows
        if row["last_progress_time"]
        < now
        - kind.stale_after(
            row["status"], row["step"], row[kind.retries_field] if kind.retries_field else 0
        )
    ]


def _reap_one(kind: JobKind, row: dict[str, Any], now: dt.datetime) -> str:
    """Claim one stuck job (its state and last sign of life still as read) and recover it."""
    manager = kind.lifecycle.model._default_manager
    claimed = manager.filter(
        pk=row["pk"],
        status=row["status"],
        step=row["step"],
        last_progress_time=row["last_progress_time"],
    ).update(last_progress_time=now)
    if not claimed:
        why, is_bug = _why_not_claimed(kind, row)
        log = logger.error if is_bug else logger.info
        log("%s %s looked stuck but was not taken: %s", kind.name, row["pk"], why)
        return "busy"
    stuck = StuckJob(
        id=row["pk"],
        status=row["status"],
        step=row["step"],
        last_progress_time=row["last_progress_time"],
        retries=row[kind.retries_field] if kind.retries_field else 0,
        claimed_at=now,
    )
    return kind.recover(stuck)


def _why_not_claimed(kind: JobKind, seen: dict[str, Any]) -> tuple[str, bool]:
    """Which condition of the claim failed (and whether that can only be a bug)."""
    current = (
        kind.lifecycle.model._default_manager.filter(pk=seen["pk"])
        .values(*_SNAPSHOT_FIELDS)
        .first()
    )
    if current is None:
        return "it was deleted meanwhile", False
    if current["status"] != seen["status"]:
        return f"its status changed from {seen['status']} to {current['status']} meanwhile", False
    if current["step"] != seen["step"]:
        return f"its step moved from {seen['step']!r} to {current['step']!r} meanwhile", False
    if current["last_progress_time"] != seen["last_progress_time"]:
        return (
            f"it showed progress at {current['last_progress_time'].isoformat()} (after "
            f"{seen['last_progress_time'].isoformat()}): its worker is alive",
            False,
        )
    return (
        "its stored last_progress_time reads back equal but does not compare equal in SQL: "
        "something wrote it in another representation than the ORM's (raw SQL without "
        "datasharing.jobs.db_datetime)",
        True,
    )
