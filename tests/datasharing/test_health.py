"""`/healthz` when the database or the broker is down: 503, naming what is down, the rest ok.

Both are made unreachable for real: a database connection and a broker URL to a port nothing
listens on. A worker is alive in these tests (its heartbeat row).
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection
from django.db.utils import load_backend
from rest_framework.test import APIClient

from datasharing import health, s3
from datasharing.seaweed import free_port

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def worker_alive(live_worker: Any) -> None:
    """The worker check passes in these tests (see tests/datasharing/test_worker_health.py)."""


@pytest.fixture(autouse=True)
def artifact_bucket(settings: Any) -> None:
    """S3 is up in these tests: its check needs the artifact bucket."""
    s3.ensure_bucket(settings.ARTIFACT_BUCKET)


@pytest.fixture
def database_down(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The health check's database connection goes to a closed port of 127.0.0.1."""
    settings_dict = copy.deepcopy(connection.settings_dict)
    settings_dict.update(HOST="127.0.0.1", PORT=str(free_port()))
    settings_dict["OPTIONS"] = {**settings_dict.get("OPTIONS", {}), "connect_timeout": 3}
    unreachable = load_backend(settings_dict["ENGINE"]).DatabaseWrapper(
        settings_dict, alias="unreachable"
    )
    monkeypatch.setattr(health, "connection", unreachable)
    yield
    unreachable.close()


@pytest.fixture
def broker_down(settings: Any) -> None:
    settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{free_port()}/0"


def healthz() -> tuple[int, dict[str, Any]]:
    response = APIClient().get("/healthz")
    return response.status_code, response.json()


def test_database_down_is_503_naming_the_database(database_down: None) -> None:
    status, body = healthz()
    assert status == 503
    assert body["checks"]["database"].startswith("down: OperationalError")
    assert body["checks"]["broker"] == "ok" and body["checks"]["s3"] == "ok"
    assert body["status"] == "down: database"


def test_broker_down_is_503_naming_the_broker(broker_down: None) -> None:
    status, body = healthz()
    assert status == 503
    assert body["checks"]["broker"].startswith("down")
    assert body["checks"]["database"] == "ok" and body["checks"]["s3"] == "ok"
    assert body["status"] == "down: broker"


def test_database_and_broker_down_are_both_named(database_down: None, broker_down: None) -> None:
    status, body = healthz()
    assert status == 503
    assert body["status"] == "down: database, broker"
    assert body["checks"]["s3"] == "ok"


def test_health_needs_no_credentials_even_when_down(
    database_down: None, anon_client: APIClient
) -> None:
    response = anon_client.get("/healthz", HTTP_AUTHORIZATION="Bearer not-a-token")
    assert response.status_code == 503
    assert "database" in response.json()["status"]
