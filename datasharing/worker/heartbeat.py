"""A Celery worker's heartbeat, canary and watchdog, run by a thread of its main process.

Started on `worker_ready` (sent once, in the worker's main process, when it starts consuming).
Every WORKER_CANARY_SECONDS the thread:
- publishes the canary task (datasharing/worker/tasks.py) to the worker's own queue
  (CELERY_WORKER_DIRECT), so this worker's pool, not another worker's, has to run it;
- records a heartbeat (a `WorkerHeartbeat` row, and WORKER_HEARTBEAT_FILE when set) with what the
  main process knows: the last time its pool started a canary (Celery counts a task as accepted in
  the main process once a pool process or thread has started it), the tasks running now and when
  any task last made progress;
- with WORKER_WATCHDOG, judges itself (datasharing/worker/liveness.py) and, when its pool has
  stopped executing tasks, kills its pool processes and exits, so that whatever runs the worker
  (Docker's restart policy, `make run`) starts a fresh one.
Between beats it looks every TICK_SECONDS for the canary it sent, and records the heartbeat again
as soon as the pool has started it, so a fresh worker is seen as ok within a tick.

A worker that stops cleanly deletes its row: it is not reported as a dead worker.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from celery import Celery
from celery.signals import worker_ready, worker_shutdown
from celery.utils.nodenames import worker_direct
from celery.worker import state as worker_state
from django.utils import timezone

from datasharing.worker.liveness import (
    Heartbeat,
    Thresholds,
    WorkerState,
    heartbeat_file_write,
    worker_liveness,
)
from datasharing.worker.tasks import CANARY_TASK

logger = logging.getLogger(__name__)

TICK_SECONDS = 0.5
# The worker's exit status when its watchdog stops it (EX_SOFTWARE).
WATCHDOG_EXIT_CODE = 70
# A canary older than this many intervals is discarded unrun.
CANARY_EXPIRES_INTERVALS = 3


class HeartbeatThread(threading.Thread):
    def __init__(
        self,
        *,
        app: Celery,
        hostname: str,
        pool: str,
        concurrency: int,
        pool_process_ids: Callable[[], list[int]],
        thresholds: Thresholds,
        heartbeat_file: Path | None,
        watchdog: bool,
    ) -> None:
        super().__init__(name="worker-heartbeat", daemon=True)
        self.app = app
        self.hostname = hostname
        self.pool = pool
        self.concurrency = concurrency
        self.pool_process_ids = pool_process_ids
        self.thresholds = thresholds
        self.heartbeat_file = heartbeat_file
        self.watchdog = watchdog
        self.stopped = threading.Event()
        now = timezone.now()
        self.started_at = now
        self.canary_ran_at: dt.datetime | None = None
        self.last_progress_at = now
        self.canaries_started = worker_state.total_count[CANARY_TASK]
        self.processed_tasks = worker_state.all_total_count[0]
        self.next_beat = time.monotonic()

    def run(self) -> None:
        from datasharing.worker.services import worker_heartbeats_prune

        self._in_database(lambda: worker_heartbeats_prune(now=self.started_at))
        while not self.stopped.is_set():
            self.tick()
            self.stopped.wait(TICK_SECONDS)

    def tick(self) -> None:
        now = timezone.now()
        canary_ran = self._observe_canary(now)
        if time.monotonic() >= self.next_beat:
            self.next_beat = time.monotonic() + self.thresholds.canary_seconds
            self._observe_progress(now)
            self._publish_canary()
            heartbeat = self.heartbeat(now)
            self._record(heartbeat)
            self._watch(heartbeat, now)
        elif canary_ran:
            self._record(self.heartbeat(now))

    def heartbeat(self, now: dt.datetime) -> Heartbeat:
        return Heartbeat(
            hostname=self.hostname,
            pid=os.getpid(),
            pool=self.pool,
            concurrency=self.concurrency,
            started_at=self.started_at,
            stamped_at=now,
            canary_ran_at=self.canary_ran_at,
            active_tasks=len(worker_state.active_requests),
            processed_tasks=self.processed_tasks,
            last_progress_at=self.last_progress_at,
        )

    def _observe_canary(self, now: dt.datetime) -> bool:
        started = worker_state.total_count[CANARY_TASK]
        if started == self.canaries_started:
            return False
        self.canaries_started = started
        self.canary_ran_at = now
        return True

    def _observe_progress(self, now: dt.datetime) -> None:
        processed = worker_state.all_total_count[0]
        if worker_state.active_requests or processed != self.processed_tasks:
            self.last_progress_at = now
        self.processed_tasks = processed

    def _publish_canary(self) -> None:
        try:
            self.app.send_task(
                CANARY_TASK,
                queue=worker_direct(self.hostname),
                # A canary queued behind a frozen pool is dropped, not run in a burst later.
                expires=CANARY_EXPIRES_INTERVALS * self.thresholds.canary_seconds,
                ignore_result=True,
            )
        except Exception:
            logger.warning("worker %s: could not publish its canary", self.hostname, exc_info=True)

    def _record(self, heartbeat: Heartbeat) -> None:
        from datasharing.worker.services import worker_heartbeat_record

        self._in_database(lambda: worker_heartbeat_record(heartbeat=heartbeat))
        if self.heartbeat_file is not None:
            try:
                heartbeat_file_write(path=self.heartbeat_file, heartbeat=heartbeat)
            except OSError:
                logger.warning("worker %s: could not write %s", self.hostname, self.heartbeat_file)

    def _in_database(self, write: Callable[[], object]) -> None:
        from django.db import connection

        try:
            write()
        except Exception:
            logger.warning(
                "worker %s: could not record its heartbeat", self.hostname, exc_info=True
            )
        finally:
            # This thread's own connection: not kept open between beats (a database restart, or
            # a pool process forked later, never inherits a live one).
            connection.close()

    def _watch(self, heartbeat: Heartbeat, now: dt.datetime) -> None:
        if not self.watchdog:
            return
        liveness = worker_liveness(heartbeat=heartbeat, now=now, thresholds=self.thresholds)
        if liveness.state != WorkerState.UNRESPONSIVE:
            return
        logger.critical(
            "worker %s is unresponsive (%s): its watchdog stops it so that it is restarted",
            self.hostname,
            liveness.reason,
        )
        # Pool processes may be deadlocked or stopped: a warm shutdown would wait for them.
        for pid in self.pool_process_ids():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        logging.shutdown()
        os._exit(WATCHDOG_EXIT_CODE)

    def stop(self) -> None:
        self.stopped.set()
        self.join(timeout=5)


_thread: HeartbeatThread | None = None


@worker_ready.connect
def _start_heartbeat(sender: Any, **_: Any) -> None:
    """`sender` is the worker's consumer (its hostname, its pool)."""
    from django.conf import settings

    from datasharing.worker.selectors import worker_thresholds

    global _thread
    pool = sender.pool
    _thread = HeartbeatThread(
        app=sender.app,
        hostname=sender.hostname,
        pool=type(pool).__module__.rsplit(".", 1)[-1],
        concurrency=int(pool.info.get("max-concurrency") or 1),
        pool_process_ids=lambda: list(pool.info.get("processes", [])),
        thresholds=worker_thresholds(),
        heartbeat_file=Path(settings.WORKER_HEARTBEAT_FILE)
        if settings.WORKER_HEARTBEAT_FILE
        else None,
        watchdog=settings.WORKER_WATCHDOG,
    )
    _thread.start()


@worker_shutdown.connect
def _stop_heartbeat(**_: Any) -> None:
    from django.db import connection

    from datasharing.worker.services import worker_heartbeat_forget

    if _thread is None:
        return
    _thread.stop()
    try:
        worker_heartbeat_forget(hostname=_thread.hostname)
    except Exception:
        logger.warning("worker %s: could not delete its heartbeat", _thread.hostname, exc_info=True)
    finally:
        connection.close()
    if _thread.heartbeat_file is not None:
        _thread.heartbeat_file.unlink(missing_ok=True)
