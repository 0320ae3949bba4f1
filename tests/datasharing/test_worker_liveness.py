"""The one judgement of a worker's heartbeat: unresponsive when silent or when its pool ran no
canary and nothing progressed for too long; busy (not unresponsive) while running tasks hold the
canary back; starting before its first canary."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from pathlib import Path

from datasharing.worker.liveness import (
    Heartbeat,
    Thresholds,
    WorkerState,
    heartbeat_file_read,
    heartbeat_file_write,
    supervised_worker_liveness,
    worker_liveness,
)

NOW = dt.datetime(2026, 5, 4, 12, 0, tzinfo=dt.UTC)
THRESHOLDS = Thresholds(canary_seconds=10, unresponsive_seconds=60, heartbeat_max_age_seconds=40)


def ago(seconds: float) -> dt.datetime:
    return NOW - dt.timedelta(seconds=seconds)


def heartbeat(
    *,
    stamped: float = 1,
    started: float = 1000,
    canary: float | None = 5,
    progress: float = 200,
    active: int = 0,
) -> Heartbeat:
    return Heartbeat(
        hostname="worker-1@host",
        pid=4242,
        pool="prefork",
        concurrency=2,
        started_at=ago(started),
        stamped_at=ago(stamped),
        canary_ran_at=None if canary is None else ago(canary),
        active_tasks=active,
        processed_tasks=17,
        last_progress_at=ago(progress),
    )


def judge(beat: Heartbeat) -> tuple[WorkerState, str]:
    liveness = worker_liveness(heartbeat=beat, now=NOW, thresholds=THRESHOLDS)
    return liveness.state, liveness.reason


def test_worker_whose_canary_ran_recently_is_ok() -> None:
    state, reason = judge(heartbeat(canary=5, progress=200))
    assert state == WorkerState.OK
    assert reason == "canary ran 5 s ago; 0 of 2 task slots busy"


def test_worker_running_long_tasks_is_busy_not_unresponsive() -> None:
    state, reason = judge(heartbeat(canary=500, progress=1, active=2))
    assert state == WorkerState.BUSY
    assert reason == "2 of 2 task slots busy; canary waiting for 500 s"


def test_idle_worker_whose_pool_runs_no_canary_is_unresponsive() -> None:
    state, reason = judge(heartbeat(canary=120, progress=120, active=0))
    assert state == WorkerState.UNRESPONSIVE
    assert reason.startswith("no task ran or progressed for 120 s")


def test_worker_whose_main_process_stopped_writing_is_unresponsive() -> None:
    state, reason = judge(heartbeat(stamped=100, canary=5, progress=1, active=2))
    assert state == WorkerState.UNRESPONSIVE
    assert reason.startswith("no heartbeat for 100 s")


def test_fresh_worker_is_starting_until_its_first_canary_and_then_unresponsive() -> None:
    assert judge(heartbeat(started=5, canary=None, progress=5))[0] == WorkerState.STARTING
    # Tasks already running when it starts (a backlog) hold the first canary back: busy.
    assert judge(heartbeat(started=5, canary=None, progress=1, active=1))[0] == WorkerState.BUSY
    assert judge(heartbeat(started=90, canary=None, progress=90))[0] == WorkerState.UNRESPONSIVE


def test_only_ok_and_busy_workers_are_healthy() -> None:
    healthy = {
        state: worker_liveness(heartbeat=beat, now=NOW, thresholds=THRESHOLDS).healthy
        for state, beat in {
            "ok": heartbeat(),
            "busy": heartbeat(canary=500, progress=1, active=2),
            "starting": heartbeat(started=5, canary=None, progress=5),
            "unresponsive": heartbeat(stamped=100),
        }.items()
    }
    assert healthy == {"ok": True, "busy": True, "starting": False, "unresponsive": False}


def test_supervisor_ignores_the_heartbeat_of_the_worker_it_replaced() -> None:
    predecessor = heartbeat(started=300, stamped=1)

    def supervised(beat: Heartbeat | None, spawned: float) -> WorkerState:
        return supervised_worker_liveness(
            heartbeat=beat, spawned_at=ago(spawned), now=NOW, thresholds=THRESHOLDS
        ).state

    assert supervised(predecessor, spawned=10) == WorkerState.STARTING
    assert supervised(None, spawned=10) == WorkerState.STARTING
    assert supervised(predecessor, spawned=61) == WorkerState.UNRESPONSIVE
    assert supervised(replace(predecessor, started_at=ago(9)), spawned=10) == WorkerState.OK


def test_heartbeat_file_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "run" / "worker-heartbeat.json"
    assert heartbeat_file_read(path=path) is None
    for beat in (heartbeat(), heartbeat(canary=None)):
        heartbeat_file_write(path=path, heartbeat=beat)
        assert heartbeat_file_read(path=path) == beat
    path.write_text("{")  # torn or foreign content reads as no heartbeat
    assert heartbeat_file_read(path=path) is None
