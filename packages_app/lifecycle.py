"""Package state changes: every change is a conditional update, then announced after commit.

`PENDING -> RUNNING -> (UNARCHIVING -> RUNNING ->) SUCCEEDED | FAILED`, `ABORTED` from any
non-terminal state. A step only writes while the package is still in the state it works in, so
an abort (or the stuck-job check) that lands between two steps stops the work: the next progress
update finds nothing to update and raises `PackageStopped`.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from packages_app.events import package_state_announce
from packages_app.models import TERMINAL_PACKAGE_STATUSES, Package, PackageStatus

logger = logging.getLogger(__name__)

NON_TERMINAL_STATUSES = (PackageStatus.PENDING, PackageStatus.RUNNING, PackageStatus.UNARCHIVING)
MAX_ERROR_MESSAGE_CHARS = 10_000


class PackageStopped(Exception):
    """The package left the state the current step works in (aborted, failed elsewhere)."""


def package_transition(
    package_id: str,
    *,
    from_statuses: Iterable[str],
    to_status: str,
    where: dict[str, Any] | None = None,
    **fields: Any,
) -> Package | None:
    """Move the package to `to_status` if it is in one of `from_statuses` (and matches `where`).

    Returns the updated package, or None when it was not in such a state (someone else moved it).
    Publishes the state-change event and, for terminal states, fires PACKAGE_FINISHED, both after
    the transaction commits.
    """
    now = timezone.now()
    values: dict[str, Any] = {"status": to_status, "last_progress_time": now, **fields}
    if to_status in TERMINAL_PACKAGE_STATUSES:
        values.setdefault("completion_time", now)
    if to_status == PackageStatus.SUCCEEDED:
        values["expires_at"] = now + dt.timedelta(days=settings.PACKAGE_EXPIRY_DAYS)
    if "error_message" in values:
        values["error_message"] = values["error_message"][:MAX_ERROR_MESSAGE_CHARS]
    with transaction.atomic():
        updated = Package.objects.filter(
            id=package_id, status__in=list(from_statuses), **(where or {})
        ).update(**values)
        if not updated:
            return None
        package = Package.objects.select_related("requested_by").get(id=package_id)
        package_state_announce(package)
    logger.info("package %s is now %s (%s)", package_id, to_status, values.get("step", ""))
    return package


def package_progress(
    package_id: str, *, step: str, status: str = PackageStatus.RUNNING, **fields: Any
) -> None:
    """Record progress (and the step being worked on); raise PackageStopped if the package is no
    longer in `status`. Steps call this between batches, which is where an abort takes effect."""
    updated = Package.objects.filter(id=package_id, status=status).update(
        step=step, last_progress_time=timezone.now(), **fields
    )
    if not updated:
        raise PackageStopped(f"package {package_id} is no longer {status}")


def package_fail(*, package_id: str, error_message: str) -> Package | None:
    """FAILED with a human-readable error, from any non-terminal state."""
    logger.warning("package %s failed: %s", package_id, error_message)
    return package_transition(
        package_id,
        from_statuses=NON_TERMINAL_STATUSES,
        to_status=PackageStatus.FAILED,
        error_message=error_message,
    )
