"""Writes of worker heartbeats (one row per Celery node name)."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict

from datasharing.models import WorkerHeartbeat
from datasharing.worker.liveness import Heartbeat

# A worker silent for this long is gone for good (renamed, scaled down): its row is deleted.
FORGET_AFTER = dt.timedelta(days=1)


def worker_heartbeat_record(*, heartbeat: Heartbeat) -> None:
    """Insert or replace the worker's row."""
    values = asdict(heartbeat)
    hostname = values.pop("hostname")
    WorkerHeartbeat.objects.update_or_create(hostname=hostname, defaults=values)


def worker_heartbeat_forget(*, hostname: str) -> None:
    """A worker that stops cleanly leaves no heartbeat behind (it is not a dead worker)."""
    WorkerHeartbeat.objects.filter(hostname=hostname).delete()


def worker_heartbeats_prune(*, now: dt.datetime) -> int:
    """Delete the rows of workers silent for FORGET_AFTER; returns how many."""
    deleted, _ = WorkerHeartbeat.objects.filter(stamped_at__lt=now - FORGET_AFTER).delete()
    return deleted
