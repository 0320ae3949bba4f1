"""Shared set-up for benchmarks: a real Postgres database and, when asked, a SeaweedFS server.

Benchmarks are run by `make bench` (or one at a time: `.venv/bin/python -m bench.<name>`); they are
not part of the test suite. The database is `datasharing_bench` on DATABASE_URL's server (default
the local Postgres), recreated and migrated on each run.
"""

from __future__ import annotations

import atexit
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
# The SeaweedFS process a benchmark started (None when AWS_ENDPOINT_URL_S3 named another server).
s3_server_pid: int | None = None


def setup(*, s3: bool = False) -> None:
    """Configure the environment and Django for a benchmark run."""
    os.environ["LOCAL_ENV_FILE"] = ""
    os.environ.setdefault("VAR_DIR", tempfile.mkdtemp(prefix="datasharing-bench-"))
    os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/datasharing_bench")
    os.environ.setdefault("CELERY_TASK_ALWAYS_EAGER", "true")
    os.environ.setdefault("AWS_REGION", "us-east-1")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ["DJANGO_SETTINGS_MODULE"] = "datasharing.settings"
    global s3_server_pid
    if s3 and not os.environ.get("AWS_ENDPOINT_URL_S3"):
        from datasharing.seaweed import start_seaweedfs

        data_dir = Path(tempfile.mkdtemp(prefix="datasharing-bench-s3-"))
        server = start_seaweedfs(data_dir, access_key="bench", secret_key="bench-secret")
        atexit.register(lambda: (server.stop(), shutil.rmtree(data_dir, ignore_errors=True)))
        os.environ["AWS_ENDPOINT_URL_S3"] = server.endpoint_url
        os.environ["AWS_ACCESS_KEY_ID"] = server.access_key
        os.environ["AWS_SECRET_ACCESS_KEY"] = server.secret_key
        s3_server_pid = server.process.pid
    _recreate_database()
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)


def _recreate_database() -> None:
    from urllib.parse import urlsplit, urlunsplit

    import psycopg

    url = urlsplit(os.environ["DATABASE_URL"])
    if not url.scheme.startswith("postgres"):
        return
    name = url.path.lstrip("/")
    admin_url = urlunsplit(url._replace(scheme="postgresql", path="/postgres"))
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def timed(fn: Callable[[], Any], *, repeat: int = 3) -> tuple[float, Any]:
    """Median wall time of `repeat` runs, and the last result."""
    times = []
    result = None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    # utime and stime are fields 14 and 15 of /proc/PID/stat (11 and 12 after the name).
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def report(name: str, lines: list[str]) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    text = "\n".join([f"## {name}", *lines, ""])
    print(text)
    (RESULTS / f"{name}.txt").write_text(text)
