"""Package state changes, and what the stuck-job reaper does with packages.

`PENDING -> RUNNING -> (UNARCHIVING -> RUNNING ->) SUCCEEDED | FAILED`, `ABORTED` from any
non-terminal state. Every change is a conditional update through the shared job lifecycle
(`datasharing.jobs`), announced after commit. A step only writes while the package is still in
the state it works in, so an abort (or the reaper) that lands between two steps stops the work:
the next progress update finds nothing to update and raises `PackageStopped`.

The pipeline's next steps are queued by task name (`enqueue`), so services never import the
tasks module that imports them.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Mapping
from typing import Any

from django.conf import settings
from django.utils import timezone

from datasharing import jobs
from packages_app.events import package_state_announce
from packages_app.models import TERMINAL_PACKAGE_STATUSES, Package, PackageStatus

logger = logging.getLogger(__name__)

NON_TERMINAL_STATUSES = (PackageStatus.PENDING, PackageStatus.RUNNING, PackageStatus.UNARCHIVING)

# Celery task names (registered in packages_app.tasks).
PACKAGE_BUILD_TASK = "packages_app.package_build"
PACKAGE_FINALIZE_TASK = "packages_app.package_finalize"
PACKAGE_RESTORES_CHECK_TASK = "packages_app.package_restores_check"

PACKAGE_JOBS = jobs.Lifecycle(
    label="package",
    model=Package,
    pending=PackageStatus.PENDING,
    running=PackageStatus.RUNNING,
    failed=PackageStatus.FAILED,
    active=NON_TERMINAL_STATUSES,
    terminal=TERMINAL_PACKAGE_STATUSES,
    announce=package_state_announce,
    related=("requested_by",),
)


class PackageStopped(Exception):
    """The package left the state the current step works in (aborted, failed elsewhere)."""


def package_transition(
    package_id: str,
    *,
    from_statuses: Iterable[str],
    to_status: str,
    where: Mapping[str, Any] | None = None,
    **fields: Any,
) -> Package | None:
    """Move the package to `to_status` if it is in one of `from_statuses` (and matches `where`).

    Returns the updated package, or None when it was not in such a state (someone else moved it).
    Publishes the state-change event and, for terminal states, fires PACKAGE_FINISHED, both after
    the transaction commits. A SUCCEEDED package expires PACKAGE_EXPIRY_DAYS after completion.
    """
    if to_status == PackageStatus.SUCCEEDED:
        now = timezone.now()
        fields.setdefault("completion_time", now)
        fields["expires_at"] = now + dt.timedelta(days=settings.PACKAGE_EXPIRY_DAYS)
    return PACKAGE_JOBS.transition(
        package_id, from_statuses=from_statuses, to_status=to_status, where=where, **fields
    )


def package_progress(
    package_id: str, *, step: str, status: str = PackageStatus.RUNNING, **fields: Any
) -> None:
    """Record progress (and the step being worked on); raise PackageStopped if the package is no
    longer in `status`. Steps call this between batches, which is where an abort takes effect."""
    if not PACKAGE_JOBS.progress(package_id, statuses=[status], step=step, **fields):
        raise PackageStopped(f"package {package_id} is no longer {status}")


def package_fail(*, package_id: str, error_message: str) -> Package | None:
    """FAILED with a human-readable error, from any non-terminal state."""
    return PACKAGE_JOBS.fail(package_id, error_message=error_message)


def package_build_enqueue(*, package_id: str, countdown: float | None = None) -> None:
    jobs.enqueue(PACKAGE_BUILD_TASK, package_id, countdown=countdown)


def package_finalize_enqueue(*, package_id: str) -> None:
    jobs.enqueue(PACKAGE_FINALIZE_TASK, package_id)


def package_restores_check_enqueue(*, package_id: str) -> None:
    jobs.enqueue(PACKAGE_RESTORES_CHECK_TASK, package_id)


# --- Stuck packages: the reaper's rules -----------------------------------------------------------


def _min_stale_after() -> dt.timedelta:
    return dt.timedelta(seconds=settings.PACKAGE_STUCK_AFTER_SECONDS)


def _stale_after(status: str, _step: str, _retries: int) -> dt.timedelta:
    if status == PackageStatus.UNARCHIVING:
        # Restore polls bump progress only every PACKAGE_RESTORE_POLL_SECONDS.
        return max(
            _min_stale_after(), dt.timedelta(seconds=3 * settings.PACKAGE_RESTORE_POLL_SECONDS)
        )
    return _min_stale_after()


def _recover(stuck: jobs.StuckJob) -> str:
    """PENDING: its task seems lost, queue it again (the build's claim makes a duplicate
    harmless). RUNNING / UNARCHIVING: the worker was lost (or polls keep failing): FAILED."""
    if stuck.status == PackageStatus.PENDING:
        package_build_enqueue(package_id=stuck.id)
        return "requeued"
    failed = package_transition(
        stuck.id,
        from_statuses=[stuck.status],
        to_status=PackageStatus.FAILED,
        where={"last_progress_time": stuck.claimed_at},
        error_message=f"No progress since {stuck.last_progress_time.isoformat()} while "
        f"{stuck.status} ({stuck.step or 'no step'}); the worker was probably lost. Create the "
        "package again.",
    )
    return "failed" if failed is not None else "busy"


PACKAGE_JOB_KIND = jobs.JobKind(
    name="package",
    lifecycle=PACKAGE_JOBS,
    watched=NON_TERMINAL_STATUSES,
    stale_after=_stale_after,
    min_stale_after=_min_stale_after,
    recover=_recover,
)


def packages_reap(*, now: dt.datetime | None = None) -> dict[str, int]:
    """The reaper for packages only: {"failed": n, "requeued": m} (see `_recover`)."""
    counts = jobs.reap_kind(PACKAGE_JOB_KIND.name, now=now)
    return {"failed": counts.get("failed", 0), "requeued": counts.get("requeued", 0)}
