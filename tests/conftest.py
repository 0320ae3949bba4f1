"""Shared fixtures: personas, API clients, demo data, a real Celery worker, moto-backed S3."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth.models import Group, User
from rest_framework.test import APIClient

from datasharing import s3
from datasharing.tokens import api_token_create

ROOT = Path(__file__).resolve().parent.parent


# --- Personas -----------------------------------------------------------------------------------


def make_user(username: str, *groups: str) -> User:
    user = User.objects.create_user(username=username, password=None)
    for name in groups:
        user.groups.add(Group.objects.get(name=name))
    return user


def client_for(user: User | None) -> APIClient:
    client = APIClient()
    if user is not None:
        _, token = api_token_create(user=user)
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


@pytest.fixture
def viewer(db: Any) -> User:
    return make_user("vera-viewer", "viewer")


@pytest.fixture
def curator(db: Any) -> User:
    return make_user("cora-curator", "curator")


@pytest.fixture
def other_curator(db: Any) -> User:
    return make_user("otto-curator", "curator")


@pytest.fixture
def admin_user(db: Any) -> User:
    return make_user("ada-admin", "admin")


@pytest.fixture
def stranger(db: Any) -> User:
    """Authenticated, but in no role group."""
    return make_user("sam-stranger")


@pytest.fixture
def anon_client() -> APIClient:
    return APIClient()


@pytest.fixture
def viewer_client(viewer: User) -> APIClient:
    return client_for(viewer)


@pytest.fixture
def curator_client(curator: User) -> APIClient:
    return client_for(curator)


@pytest.fixture
def admin_client_api(admin_user: User) -> APIClient:
    return client_for(admin_user)


@pytest.fixture
def stranger_client(stranger: User) -> APIClient:
    return client_for(stranger)


# --- S3 and demo data ---------------------------------------------------------------------------


@pytest.fixture(scope="session")
def demo_storage() -> None:
    """Demo objects written once per session into the session's SeaweedFS."""
    from catalog_app import demo

    demo.seed_demo_storage()


@pytest.fixture
def demo_catalog(db: Any, demo_storage: None, tmp_path: Path) -> Path:
    """The demo facility in the catalog (objects already in S3). Returns the manifest folder."""
    from catalog_app import demo

    demo.seed_demo_catalog(demo_dir=tmp_path / "demo")
    return tmp_path / "demo"


@pytest.fixture
def bucket_factory() -> Callable[[str], str]:
    """Create uniquely named buckets in the session's SeaweedFS."""
    counter = iter(range(1_000_000))

    def create(prefix: str = "test") -> str:
        name = f"{prefix}-{os.getpid()}-{time.monotonic_ns() % 10**9}-{next(counter)}"[:63].lower()
        s3.ensure_bucket(name)
        return name

    return create


def allow_source(uri: str) -> None:
    """Make `uri` an allowed catalogue source (an enabled admin row, which a worker process sees
    too)."""
    from catalog_app.sources.models import AllowedSource

    AllowedSource.objects.get_or_create(prefix=uri)


@pytest.fixture
def source_bucket_factory(db: Any, bucket_factory: Callable[[str], str]) -> Callable[[str], str]:
    """Create uniquely named buckets that are allowed catalogue sources (whole buckets)."""

    def create(prefix: str = "source") -> str:
        bucket = bucket_factory(prefix)
        allow_source(f"s3://{bucket}/")
        return bucket

    return create


@pytest.fixture
def moto_s3(settings: Any) -> str:
    """Point S3 at the moto server (storage classes and RestoreObject); returns its URL."""
    url = os.environ["TEST_MOTO_URL"]
    settings.AWS_ENDPOINT_URL_S3 = url
    return url


# --- Celery ------------------------------------------------------------------------------------


class WorkerProcess:
    """A real `celery worker` subprocess on the test session's Redis queue and test database."""

    def __init__(self, database_name: str) -> None:
        self.database_name = database_name
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = Path(os.environ["VAR_DIR"]) / f"worker-{time.monotonic_ns()}.log"

    def start(self, *, concurrency: int = 2, extra_env: dict[str, str] | None = None) -> None:
        from urllib.parse import urlsplit, urlunsplit

        url = urlsplit(os.environ["DATABASE_URL"])
        env = os.environ.copy()
        env["DATABASE_URL"] = urlunsplit(url._replace(path=f"/{self.database_name}"))
        env["CELERY_TASK_ALWAYS_EAGER"] = "false"
        env["CONN_MAX_AGE"] = "0"
        env.update(extra_env or {})
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "datasharing",
                "worker",
                "--loglevel",
                "INFO",
                "--concurrency",
                str(concurrency),
                "--pool",
                "prefork",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "-Q",
                settings.CELERY_TASK_DEFAULT_QUEUE,
                "--hostname",
                f"test-{time.monotonic_ns()}@%h",
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if b"ready." in self.log_path.read_bytes():
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.2)
        raise RuntimeError(f"celery worker did not start:\n{self.log()}")

    def kill(self) -> None:
        """SIGKILL the whole worker (main process and pool children), as a crash would."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@pytest.fixture
def celery_worker(transactional_db: Any, settings: Any) -> Iterator[WorkerProcess]:
    """Tasks go through Redis to a real worker process for this test."""
    from django.db import connection

    from datasharing.celery import app

    settings.CELERY_TASK_ALWAYS_EAGER = False
    app.conf.task_always_eager = False
    worker = WorkerProcess(connection.settings_dict["NAME"])
    worker.start()
    try:
        yield worker
    finally:
        worker.stop()
        app.conf.task_always_eager = True


def wait_for(
    predicate: Callable[[], Any], *, timeout: float = 60, interval: float = 0.2, message: str = ""
) -> Any:
    """Poll until `predicate()` is truthy; fail the test with `message` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    pytest.fail(message or f"condition not met within {timeout}s")
