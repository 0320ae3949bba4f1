"""Worker liveness as the health endpoints report it: heartbeat rows, `/healthz` (worker check),
`/healthz/live`, `/healthz/ready` (workers and queue depth), `manage.py worker_health`, and real
Celery workers whose pool is frozen (SIGSTOP) or which are killed (SIGKILL)."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import signal
import socket
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from datasharing import s3
from datasharing.celery import app
from datasharing.models import WorkerHeartbeat
from datasharing.worker.heartbeat import WATCHDOG_EXIT_CODE
from datasharing.worker.services import (
    worker_heartbeat_forget,
    worker_heartbeat_record,
    worker_heartbeats_prune,
)
from datasharing.worker.tasks import CANARY_TASK
from tests.conftest import WorkerProcess, wait_for
from tests.datasharing.conftest import healthy_heartbeat

# Short enough for a test to see a worker go unresponsive; the worker and this process agree.
FAST_LIVENESS = {
    "WORKER_CANARY_SECONDS": 0.5,
    "WORKER_UNRESPONSIVE_SECONDS": 4.0,
    "WORKER_HEARTBEAT_MAX_AGE_SECONDS": 4.0,
}


@pytest.fixture(autouse=True)
def artifact_bucket(settings: Any) -> None:
    s3.ensure_bucket(settings.ARTIFACT_BUCKET)


def get(path: str) -> tuple[int, dict[str, Any]]:
    response = APIClient().get(path)
    return response.status_code, response.json()


def stale(hostname: str, seconds: float) -> None:
    """A worker last heard from `seconds` ago."""
    then = timezone.now() - dt.timedelta(seconds=seconds)
    worker_heartbeat_record(
        heartbeat=replace(
            healthy_heartbeat(hostname),
            started_at=then,
            stamped_at=then,
            canary_ran_at=then,
            last_progress_at=then,
        )
    )


# --- Heartbeat rows ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_worker_has_one_row_replaced_by_each_heartbeat_and_removed_when_it_stops() -> None:
    first = healthy_heartbeat("celery@a")
    worker_heartbeat_record(heartbeat=first)
    later = replace(first, stamped_at=first.stamped_at + dt.timedelta(seconds=15), active_tasks=2)
    worker_heartbeat_record(heartbeat=later)
    row = WorkerHeartbeat.objects.get()
    assert (row.hostname, row.stamped_at, row.active_tasks) == ("celery@a", later.stamped_at, 2)

    worker_heartbeat_forget(hostname="celery@a")
    assert not WorkerHeartbeat.objects.exists()


@pytest.mark.django_db
def test_workers_silent_for_a_day_are_forgotten() -> None:
    stale("celery@gone", seconds=2 * 24 * 3600)
    stale("celery@recent", seconds=3600)
    assert worker_heartbeats_prune(now=timezone.now()) == 1
    assert list(WorkerHeartbeat.objects.values_list("hostname", flat=True)) == ["celery@recent"]


# --- Endpoints -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_no_worker_heartbeat_is_503_saying_none() -> None:
    status, body = get("/healthz")
    assert status == 503
    assert body["status"] == "down: worker"
    assert body["checks"]["worker"] == "none: no worker has sent a heartbeat"
    assert body["checks"]["database"] == "ok"


@pytest.mark.django_db
def test_healthz_names_every_worker_and_is_ok_while_one_executes_tasks(settings: Any) -> None:
    stale("celery@dead-host", seconds=settings.WORKER_HEARTBEAT_MAX_AGE_SECONDS + 30)
    status, body = get("/healthz")
    assert status == 503
    assert body["checks"]["worker"].startswith("unresponsive: celery@dead-host (pid ")
    assert "no heartbeat for" in body["checks"]["worker"]

    worker_heartbeat_record(heartbeat=healthy_heartbeat("celery@live-host"))
    status, body = get("/healthz")
    assert status == 200, body
    assert body["status"] == "ok"
    worker = body["checks"]["worker"]
    assert worker.startswith("ok: ")
    assert "celery@dead-host (pid " in worker and ") unresponsive: no heartbeat for" in worker
    assert "celery@live-host (pid " in worker and ") ok: canary ran" in worker


@pytest.mark.django_db
def test_live_answers_whatever_is_down(settings: Any) -> None:
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:9/0"  # nothing listens on the discard port
    assert get("/healthz")[0] == 503
    assert get("/healthz/live") == (200, {"status": "ok"})


@pytest.mark.django_db
@pytest.mark.filterwarnings("ignore::celery.exceptions.AlwaysEagerIgnored")
def test_ready_reports_each_worker_and_the_queue_depth(live_worker: Any, settings: Any) -> None:
    status, body = get("/healthz/ready")
    assert status == 200, body
    assert body["checks"]["worker"].startswith("ok: ")
    (worker,) = body["workers"]
    assert worker["hostname"] == live_worker.hostname and worker["pid"] == live_worker.pid
    assert (worker["state"], worker["pool"], worker["concurrency"]) == ("ok", "prefork", 2)
    assert worker["reason"].startswith("canary ran")
    assert {"startedAt", "stampedAt", "canaryRanAt", "lastProgressAt", "activeTasks"} <= set(worker)

    # Three messages more on the default queue (canaries that expire unrun: harmless).
    before = body["queueDepth"]
    assert isinstance(before, int)
    for _ in range(3):
        app.send_task(CANARY_TASK, queue=settings.CELERY_TASK_DEFAULT_QUEUE, expires=1)
    assert get("/healthz/ready")[1]["queueDepth"] == before + 3


@pytest.mark.django_db
def test_ready_is_503_when_the_broker_is_down_and_then_knows_no_queue_depth(
    live_worker: Any, settings: Any
) -> None:
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:9/0"
    status, body = get("/healthz/ready")
    assert status == 503
    assert body["status"] == "down: broker"
    assert body["queueDepth"] is None
    assert [worker["state"] for worker in body["workers"]] == ["ok"]


@pytest.mark.django_db
def test_worker_health_command_passes_only_for_a_worker_here_that_executes_tasks(
    settings: Any,
) -> None:
    here = f"celery@{socket.gethostname()}"
    with pytest.raises(CommandError, match="no heartbeat from a worker here"):
        call_command("worker_health")
    stale(here, seconds=settings.WORKER_HEARTBEAT_MAX_AGE_SECONDS + 30)
    with pytest.raises(CommandError, match="no worker here executes tasks"):
        call_command("worker_health")
    # Another host's healthy worker does not make this one healthy.
    worker_heartbeat_record(heartbeat=healthy_heartbeat("celery@elsewhere"))
    with pytest.raises(CommandError):
        call_command("worker_health")
    worker_heartbeat_record(heartbeat=healthy_heartbeat(here))
    call_command("worker_health")
    call_command("worker_health", "--hostname", "celery@elsewhere")


# --- Real workers --------------------------------------------------------------------------------


def pool_processes(worker: WorkerProcess) -> list[int]:
    """The worker's pool processes (children of its main process), from /proc."""
    assert worker.process is not None
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat[stat.rindex(")") + 2 :].split()[1]) == worker.process.pid:
                found.append(int(entry.name))
    return found


@pytest.fixture
def start_worker(transactional_db: Any, settings: Any) -> Iterator[Callable[..., WorkerProcess]]:
    """Start real workers (prefork, on the session's Redis) with fast liveness settings."""
    for name, value in FAST_LIVENESS.items():
        setattr(settings, name, value)
    workers: list[WorkerProcess] = []

    def start(**extra_env: str) -> WorkerProcess:
        worker = WorkerProcess(connection.settings_dict["NAME"])
        workers.append(worker)
        worker.start(extra_env={**{k: str(v) for k, v in FAST_LIVENESS.items()}, **extra_env})
        return worker

    yield start
    for worker in workers:
        if worker.process is not None:
            for pid in pool_processes(worker):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGCONT)
        worker.stop()
        worker.kill()  # whatever ignored the stop


def is_running(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] not in "ZX"


def ready_worker(worker: WorkerProcess) -> dict[str, Any]:
    """The worker's entry in `/healthz/ready` once it is ok."""

    def ok() -> dict[str, Any] | None:
        status, body = get("/healthz/ready")
        entries = [entry for entry in body["workers"] if entry["state"] == "ok"]
        return entries[0] if status == 200 and entries else None

    entry: dict[str, Any] = wait_for(
        ok, timeout=60, interval=0.3, message=f"no worker became ok:\n{worker.log()}"
    )
    assert worker.process is not None and entry["pid"] == worker.process.pid
    return entry


def reported_unresponsive(worker: WorkerProcess, hostname: str) -> dict[str, Any]:
    def unresponsive() -> dict[str, Any] | None:
        status, body = get("/healthz/ready")
        entries = [entry for entry in body["workers"] if entry["hostname"] == hostname]
        if status == 503 and entries and entries[0]["state"] == "unresponsive":
            return body
        return None

    body: dict[str, Any] = wait_for(
        unresponsive, timeout=60, interval=0.3, message=f"not reported:\n{worker.log()}"
    )
    return body


def test_a_worker_whose_pool_is_frozen_is_reported_unresponsive_by_name(
    start_worker: Callable[..., WorkerProcess],
) -> None:
    worker = start_worker()
    entry = ready_worker(worker)
    hostname = entry["hostname"]
    assert entry["pool"] == "prefork" and entry["concurrency"] == 2
    assert get("/healthz")[0] == 200

    pool = pool_processes(worker)
    assert len(pool) == 2
    for pid in pool:
        os.kill(pid, signal.SIGSTOP)
    body = reported_unresponsive(worker, hostname)
    assert body["status"] == "down: worker"
    assert body["checks"]["worker"].startswith(f"unresponsive: {hostname} (pid ")
    assert "no task ran or progressed for" in body["checks"]["worker"]
    # Its main process still answers: it is the pool that is gone.
    assert worker.process is not None and worker.process.poll() is None
    status, healthz = get("/healthz")
    assert status == 503 and hostname in healthz["checks"]["worker"]


def test_a_killed_worker_is_reported_unresponsive_by_name(
    start_worker: Callable[..., WorkerProcess],
) -> None:
    worker = start_worker()
    hostname = ready_worker(worker)["hostname"]
    worker.kill()
    body = reported_unresponsive(worker, hostname)
    assert "no heartbeat for" in body["checks"]["worker"]


def test_a_worker_that_stops_cleanly_leaves_no_heartbeat(
    start_worker: Callable[..., WorkerProcess],
) -> None:
    worker = start_worker()
    ready_worker(worker)
    worker.stop()
    assert not WorkerHeartbeat.objects.exists()
    status, body = get("/healthz")
    assert (status, body["checks"]["worker"]) == (503, "none: no worker has sent a heartbeat")


def test_the_watchdog_stops_a_worker_whose_pool_is_frozen(
    start_worker: Callable[..., WorkerProcess],
) -> None:
    worker = start_worker(WORKER_WATCHDOG="true")
    ready_worker(worker)
    pool = pool_processes(worker)
    for pid in pool:
        os.kill(pid, signal.SIGSTOP)
    assert worker.process is not None
    wait_for(
        lambda: worker.process is not None and worker.process.poll() is not None,
        timeout=60,
        message=f"the watchdog did not stop the worker:\n{worker.log()}",
    )
    assert worker.process.returncode == WATCHDOG_EXIT_CODE
    assert "its watchdog stops it" in worker.log()
    # It took its frozen pool with it.
    wait_for(lambda: not any(is_running(pid) for pid in pool), timeout=30)
