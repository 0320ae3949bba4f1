"""One representation of datetimes where raw SQL and the ORM meet: the reaper's claim (a
conditional UPDATE keyed on `last_progress_time`) matches after raw-SQL progress writes, on
Postgres (the suite's database) and on SQLite (`make run`'s), where Python's sqlite3 adapter
would write `...+00:00` and the ORM compares `YYYY-MM-DD HH:MM:SS.ffffff`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT
from tests.sharing_app.push import reaper_scenario

SCENARIO_MODULE = "tests.sharing_app.push.reaper_scenario"


def assert_reaper_claims_after_raw_sql_progress(result: dict[str, Any]) -> None:
    assert result["job_matches"] == 1
    assert result["file_matches"] == 1
    # The two files the lost copier held are handed back; the job is claimed and resumed (before
    # the fix, SQLite answered {"files_requeued": 2, "jobs_busy": 1} on every run, for ever).
    assert result["reaped"] == {"files_requeued": 2, "jobs_resumed": 1}
    assert result["resume_count"] == 1
    assert result["file_states"] == ["PENDING", "PENDING", "PENDING", "SUCCEEDED"]
    assert result["packages"] == {"failed": 1, "requeued": 0}
    assert result["package_status"] == "FAILED"


@pytest.mark.django_db
def test_reaper_claims_a_job_after_raw_sql_progress_on_postgres() -> None:
    result = reaper_scenario.run()
    assert result["vendor"] == "postgresql"
    assert_reaper_claims_after_raw_sql_progress(result)
    # Postgres parses an ISO string with an offset into the same instant: nothing to refuse.
    assert result["reaped_foreign"] == {"jobs_resumed": 1}


def sqlite_env(tmp_path: Path) -> dict[str, str]:
    """The suite's environment, but SQLite for the database and an in-memory broker."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "CELERY_"))}
    env |= {
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "VAR_DIR": str(tmp_path),
        "CELERY_BROKER_URL": "memory://",
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "DJANGO_SETTINGS_MODULE": "datasharing.settings",
    }
    return env


def test_reaper_claims_a_job_after_raw_sql_progress_on_sqlite(tmp_path: Path) -> None:
    env = sqlite_env(tmp_path)
    migrate = subprocess.run(
        [sys.executable, "manage.py", "migrate", "--verbosity", "0"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert migrate.returncode == 0, migrate.stderr
    output = tmp_path / "result.json"
    scenario = subprocess.run(
        [sys.executable, "-m", SCENARIO_MODULE, str(output)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert scenario.returncode == 0, scenario.stderr
    result = json.loads(output.read_text())

    assert result["vendor"] == "sqlite"
    assert_reaper_claims_after_raw_sql_progress(result)
    # A timestamp written in another representation is not claimable on SQLite; the reaper says
    # which condition failed instead of counting a silent "busy" for ever.
    assert result["reaped_foreign"] == {"jobs_busy": 1}
    assert any("another representation than the ORM's" in line for line in result["log"])
    # Enqueueing by task name works in a process that imported no task module yet.
    assert result["task_imported_before"] is False
    assert result["task_resolved"] == "sharing_app.push_copy"
