"""Reads of worker heartbeats, judged (datasharing/worker/liveness.py)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.conf import settings

from datasharing.models import WorkerHeartbeat
from datasharing.worker.liveness import Heartbeat, Liveness, Thresholds, worker_liveness
from datasharing.worker.services import FORGET_AFTER


@dataclass(frozen=True)
class WorkerReport:
    heartbeat: Heartbeat
    liveness: Liveness


def worker_thresholds() -> Thresholds:
    """The WORKER_* settings."""
    return Thresholds(
        canary_seconds=settings.WORKER_CANARY_SECONDS,
        unresponsive_seconds=settings.WORKER_UNRESPONSIVE_SECONDS,
        heartbeat_max_age_seconds=settings.WORKER_HEARTBEAT_MAX_AGE_SECONDS,
    )


def _heartbeat(row: WorkerHeartbeat) -> Heartbeat:
    return Heartbeat(
        hostname=row.hostname,
        pid=row.pid,
        pool=row.pool,
        concurrency=row.concurrency,
        started_at=row.started_at,
        stamped_at=row.stamped_at,
        canary_ran_at=row.canary_ran_at,
        active_tasks=row.active_tasks,
        processed_tasks=row.processed_tasks,
        last_progress_at=row.last_progress_at,
    )


def worker_reports_list(*, now: dt.datetime, hostname_suffix: str = "") -> list[WorkerReport]:
    """Every worker heard from within FORGET_AFTER (optionally only node names ending with
    `hostname_suffix`, e.g. `@host`), judged at `now`, by node name."""
    thresholds = worker_thresholds()
    rows = WorkerHeartbeat.objects.filter(
        stamped_at__gte=now - FORGET_AFTER, hostname__endswith=hostname_suffix
    )
    return [
        WorkerReport(
            heartbeat, worker_liveness(heartbeat=heartbeat, now=now, thresholds=thresholds)
        )
        for heartbeat in map(_heartbeat, rows)
    ]
