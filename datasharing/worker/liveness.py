"""Is a Celery worker still executing tasks? The one judgement, from the worker's last heartbeat.

A worker's main process can be up while its pool executes nothing: billiard's classic prefork
pool (the one Celery uses with the filesystem broker) deadlocks when a pool process is killed
while it holds the shared queue lock, and a consumer can hang on its broker. `celery inspect ping`
and Celery's heartbeat events are answered by the main process, so they stay green. What proves
that the pool works is a task that ran: every `canary_seconds` the worker's main process publishes
a canary task to the worker's own queue and records a heartbeat (datasharing/worker/heartbeat.py)
with the time its pool last started a canary, the tasks running and the last time any task made
progress (a task running counts as progress: a long task holds the canary back, it is not a fault).

States, judged at `now`:
- unresponsive: no heartbeat for `heartbeat_max_age_seconds` (the process is dead, stopped or
  stuck), or no canary ran and nothing progressed for `unresponsive_seconds`;
- busy: tasks run, the canary waits behind them;
- starting: no canary has run since the worker started, and nothing runs (yet);
- ok: a canary ran within the last three canary intervals.
`none` is what a reader says when it has no heartbeat at all.

No Django here: `make run`'s supervisor, which is not a Django process, judges the heartbeat file
its worker writes with the same function.
"""

from __future__ import annotations

import datetime as dt
import enum
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

# Defaults of the WORKER_* settings (the supervisor of `make run` uses them too).
DEFAULT_CANARY_SECONDS = 15.0
# Longer than any pause between two tasks of a healthy worker with a backlog.
DEFAULT_UNRESPONSIVE_SECONDS = 90.0
# Four canary intervals: one late heartbeat (a busy database, a slow broker) is not a dead worker.
DEFAULT_HEARTBEAT_MAX_AGE_SECONDS = 60.0
# A canary that waits longer than this many intervals makes an otherwise healthy worker "busy".
CANARY_LATE_AFTER_INTERVALS = 3


class WorkerState(enum.StrEnum):
    OK = "ok"
    BUSY = "busy"
    STARTING = "starting"
    UNRESPONSIVE = "unresponsive"
    NONE = "none"


# A worker in one of these states executes tasks (or will as soon as running ones end).
HEALTHY_STATES = frozenset({WorkerState.OK, WorkerState.BUSY})


@dataclass(frozen=True)
class Thresholds:
    canary_seconds: float = DEFAULT_CANARY_SECONDS
    unresponsive_seconds: float = DEFAULT_UNRESPONSIVE_SECONDS
    heartbeat_max_age_seconds: float = DEFAULT_HEARTBEAT_MAX_AGE_SECONDS


@dataclass(frozen=True)
class Heartbeat:
    """What a worker's main process knows about itself. Datetimes are aware (UTC)."""

    hostname: str  # Celery node name, e.g. `celery@host`
    pid: int
    pool: str  # Celery pool implementation: prefork, thread, solo ...
    concurrency: int
    started_at: dt.datetime
    stamped_at: dt.datetime
    canary_ran_at: dt.datetime | None  # the pool last started a canary task
    active_tasks: int
    processed_tasks: int  # tasks the pool has started since the worker started
    last_progress_at: dt.datetime  # a task ran or started, or the processed count moved


@dataclass(frozen=True)
class Liveness:
    state: WorkerState
    reason: str

    @property
    def healthy(self) -> bool:
        return self.state in HEALTHY_STATES


def _seconds(later: dt.datetime, earlier: dt.datetime) -> float:
    return (later - earlier).total_seconds()


def worker_liveness(*, heartbeat: Heartbeat, now: dt.datetime, thresholds: Thresholds) -> Liveness:
    """Judge a worker by its last heartbeat (see the module for the states)."""
    silent = _seconds(now, heartbeat.stamped_at)
    if silent > thresholds.heartbeat_max_age_seconds:
        return Liveness(
            WorkerState.UNRESPONSIVE,
            f"no heartbeat for {silent:.0f} s: the process is dead, stopped or stuck",
        )
    last_proof = max(heartbeat.canary_ran_at or heartbeat.started_at, heartbeat.last_progress_at)
    idle = _seconds(now, last_proof)
    if idle > thresholds.unresponsive_seconds:
        return Liveness(
            WorkerState.UNRESPONSIVE,
            f"no task ran or progressed for {idle:.0f} s while none was running:"
            " its pool does not execute tasks",
        )
    running = f"{heartbeat.active_tasks} of {heartbeat.concurrency} task slots busy"
    if heartbeat.canary_ran_at is None:
        if heartbeat.active_tasks:
            return Liveness(WorkerState.BUSY, f"{running}; no canary ran yet")
        started = _seconds(now, heartbeat.started_at)
        return Liveness(WorkerState.STARTING, f"started {started:.0f} s ago; no canary ran yet")
    canary_age = _seconds(now, heartbeat.canary_ran_at)
    if canary_age > CANARY_LATE_AFTER_INTERVALS * thresholds.canary_seconds:
        return Liveness(WorkerState.BUSY, f"{running}; canary waiting for {canary_age:.0f} s")
    return Liveness(WorkerState.OK, f"canary ran {canary_age:.0f} s ago; {running}")


def supervised_worker_liveness(
    *,
    heartbeat: Heartbeat | None,
    spawned_at: dt.datetime,
    now: dt.datetime,
    thresholds: Thresholds,
) -> Liveness:
    """Judge a worker a supervisor started at `spawned_at`: a heartbeat written before then is
    its predecessor's and does not count; a worker gets `unresponsive_seconds` to write its first."""
    if heartbeat is None or heartbeat.started_at < spawned_at:
        waited = _seconds(now, spawned_at)
        if waited > thresholds.unresponsive_seconds:
            return Liveness(WorkerState.UNRESPONSIVE, f"no heartbeat {waited:.0f} s after start")
        return Liveness(WorkerState.STARTING, "no heartbeat yet")
    return worker_liveness(heartbeat=heartbeat, now=now, thresholds=thresholds)


# --- The heartbeat file (`WORKER_HEARTBEAT_FILE`, written for `make run`'s supervisor) ----------


def heartbeat_file_write(*, path: Path, heartbeat: Heartbeat) -> None:
    """Replace the file atomically: a reader never sees half of it."""
    values = {
        key: value.isoformat() if isinstance(value, dt.datetime) else value
        for key, value in asdict(heartbeat).items()
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(json.dumps(values))
    temporary.replace(path)


def heartbeat_file_read(*, path: Path) -> Heartbeat | None:
    """The heartbeat in the file; None when there is none (or it cannot be read)."""
    try:
        values = json.loads(path.read_text())
        canary_ran_at = values["canary_ran_at"]
        return Heartbeat(
            hostname=str(values["hostname"]),
            pid=int(values["pid"]),
            pool=str(values["pool"]),
            concurrency=int(values["concurrency"]),
            started_at=dt.datetime.fromisoformat(values["started_at"]),
            stamped_at=dt.datetime.fromisoformat(values["stamped_at"]),
            canary_ran_at=dt.datetime.fromisoformat(canary_ran_at) if canary_ran_at else None,
            active_tasks=int(values["active_tasks"]),
            processed_tasks=int(values["processed_tasks"]),
            last_progress_at=dt.datetime.fromisoformat(values["last_progress_at"]),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None
