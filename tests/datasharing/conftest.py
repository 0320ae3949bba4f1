"""Fixtures for the project layer's tests."""

from __future__ import annotations

import os
from typing import Any

import pytest
from django.utils import timezone

from datasharing.worker.liveness import Heartbeat
from datasharing.worker.services import worker_heartbeat_record


def healthy_heartbeat(hostname: str = "celery@test-host") -> Heartbeat:
    """What a worker whose pool has just run its canary records."""
    now = timezone.now()
    return Heartbeat(
        hostname=hostname,
        pid=os.getpid(),
        pool="prefork",
        concurrency=2,
        started_at=now,
        stamped_at=now,
        canary_ran_at=now,
        active_tasks=0,
        processed_tasks=1,
        last_progress_at=now,
    )


@pytest.fixture
def live_worker(db: Any) -> Heartbeat:
    """A worker that executes tasks, as far as health checks can tell (its heartbeat row)."""
    heartbeat = healthy_heartbeat()
    worker_heartbeat_record(heartbeat=heartbeat)
    return heartbeat
