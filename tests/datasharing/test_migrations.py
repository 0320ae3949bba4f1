"""Migrations apply on a new database and on one made before sharing_app's migrations were
squashed (it recorded 0001_presign, 0001_push and 0002_merge_presign_push)."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT

OLD_SHARING_MIGRATIONS = ["0001_presign", "0001_push", "0002_merge_presign_push"]


def manage(var_dir: Path, *args: str) -> str:
    env = {
        **os.environ,
        "VAR_DIR": str(var_dir),
        "LOCAL_ENV_FILE": "",
        "DATABASE_URL": f"sqlite:///{var_dir / 'db.sqlite3'}",
        "CELERY_BROKER_URL": "filesystem://",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_a_database_from_before_the_squash_migrates_cleanly(tmp_path: Path) -> None:
    manage(tmp_path, "migrate", "--no-input")
    # Rewrite the history as a database migrated by the earlier layout recorded it.
    with sqlite3.connect(tmp_path / "db.sqlite3") as db:
        db.execute("DELETE FROM django_migrations WHERE app = 'sharing_app'")
        db.executemany(
            "INSERT INTO django_migrations (app, name, applied) VALUES ('sharing_app', ?, "
            "'2026-11-27 11:02:00')",
            [(name,) for name in OLD_SHARING_MIGRATIONS],
        )
    assert "No migrations to apply." in manage(tmp_path, "migrate", "--no-input")
    shown = manage(tmp_path, "showmigrations", "sharing_app")
    assert "[X] 0001_initial (3 squashed migrations)" in shown
    assert "No changes detected" in manage(tmp_path, "makemigrations", "--check", "--dry-run")
