"""SPEC §11: a worker killed mid-job leaves the package to the reconciliation, which fails it."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from packages_app import services
from packages_app.models import Package, PackageStatus
from tests.conftest import WorkerProcess, wait_for
from tests.packages_app.conftest import SUBJECT_1_TUMOR


class SilentServer:
    """Accepts TCP connections and never answers: an S3 endpoint that hangs."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.connections: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections.append(conn)

    def close(self) -> None:
        for conn in self.connections:
            conn.close()
        self.sock.close()


@pytest.fixture
def silent_s3() -> Iterator[SilentServer]:
    server = SilentServer()
    yield server
    server.close()


def test_worker_killed_mid_build_is_failed_by_the_stuck_job_check(
    transactional_db: Any, demo_catalog: Path, silent_s3: SilentServer, settings: Any
) -> None:
    from django.db import connection

    from datasharing.celery import app

    settings.CELERY_TASK_ALWAYS_EAGER = False
    app.conf.task_always_eager = False
    worker = WorkerProcess(connection.settings_dict["NAME"])
    worker.start(
        concurrency=1,
        extra_env={
            "AWS_ENDPOINT_URL_S3": f"http://127.0.0.1:{silent_s3.port}",
            "S3_MAX_ATTEMPTS": "1",
            "S3_READ_TIMEOUT": "300",
        },
    )
    try:
        package = services.package_create(
            package_name="lost-worker",
            package_request={
                "libraryIdList": [SUBJECT_1_TUMOR],
                "dataTypeList": ["secondaryAnalysis"],
            },
            user=None,
        )
        # The worker claims the package and hangs listing the workflow outputs.
        wait_for(lambda: silent_s3.connections, timeout=60, message=worker.log())
        package.refresh_from_db()
        assert (package.status, package.step) == (PackageStatus.RUNNING, "resolving")
        worker.kill()
    finally:
        worker.stop()
        app.conf.task_always_eager = True

    assert services.packages_fail_stuck() == {"failed": 0, "requeued": 0}  # not stuck yet
    settings.PACKAGE_STUCK_AFTER_SECONDS = 0
    assert services.packages_fail_stuck() == {"failed": 1, "requeued": 0}
    package = Package.objects.get(id=package.id)
    assert package.status == PackageStatus.FAILED
    assert "the worker was probably lost" in package.error_message
    assert "while RUNNING (resolving)" in package.error_message
