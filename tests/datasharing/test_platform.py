from __future__ import annotations

import datetime as dt
import io
import json
import logging
from pathlib import Path

import pytest
from django.contrib.auth.models import Group, User
from django.core.management import call_command
from rest_framework.test import APIClient

from datasharing import health
from datasharing.errors import DomainError, domain_error_status
from datasharing.ids import normalize_id
from datasharing.logs import JobContextFilter, job_context
from datasharing.models import ApiToken


@pytest.mark.django_db
def test_role_groups_exist_after_migrate() -> None:
    assert set(Group.objects.values_list("name", flat=True)) >= {"viewer", "curator", "admin"}


@pytest.mark.django_db
def test_health_reports_ok_when_everything_is_up(settings, live_worker) -> None:  # type: ignore[no-untyped-def]
    from datasharing import s3

    s3.ensure_bucket(settings.ARTIFACT_BUCKET)
    response = APIClient().get("/healthz")
    assert response.status_code == 200
    checks = response.json()["checks"]
    assert checks.pop("worker").startswith(
        f"ok: {live_worker.hostname} (pid {live_worker.pid}) ok:"
    )
    assert checks == {"database": "ok", "broker": "ok", "s3": "ok"}


@pytest.mark.django_db
def test_health_names_what_is_down(settings, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    settings.AWS_ENDPOINT_URL_S3 = "http://127.0.0.1:9"  # nothing listens on the discard port
    response = APIClient().get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["checks"]["s3"].startswith("down")
    assert body["checks"]["database"] == "ok"
    assert "s3" in body["status"]


@pytest.mark.django_db
def test_schema_and_swagger_need_no_auth() -> None:
    client = APIClient()
    schema = client.get("/schema/openapi.json")
    assert schema.status_code == 200
    assert "/api/v1/catalog/libraries" in schema.json()["paths"]
    assert client.get("/schema/swagger-ui").status_code == 200


@pytest.mark.django_db
def test_create_api_token_prints_a_new_working_token_each_time() -> None:
    out = io.StringIO()
    call_command("create_api_token", "robot", "--group", "curator", stdout=out)
    token = out.getvalue().strip()
    assert User.objects.get(username="robot").groups.filter(name="curator").exists()
    again = io.StringIO()
    call_command("create_api_token", "robot", "--group", "curator", stdout=again)
    assert again.getvalue().strip() != token
    for each in (token, again.getvalue().strip()):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {each}")
        assert client.get("/api/v1/package").status_code == 200


@pytest.mark.django_db
def test_create_api_token_reuses_a_valid_token_file_owner_only(tmp_path: Path) -> None:
    token_file = tmp_path / "state" / "admin-token"
    first = io.StringIO()
    call_command("create_api_token", "robot", "--token-file", str(token_file), stdout=first)
    assert token_file.stat().st_mode & 0o777 == 0o600
    second = io.StringIO()
    call_command("create_api_token", "robot", "--token-file", str(token_file), stdout=second)
    assert second.getvalue() == first.getvalue()
    # A token that no longer works (here: revoked) is replaced.
    ApiToken.objects.update(revoked_at=dt.datetime.now(tz=dt.UTC))
    third = io.StringIO()
    call_command("create_api_token", "robot", "--token-file", str(token_file), stdout=third)
    assert third.getvalue() != first.getvalue()
    assert token_file.read_text().strip() == third.getvalue().strip()


def test_ids_accept_prefixed_and_bare_ulids() -> None:
    ulid = "01JD5V7Q3S8K2M4N6P8R0T2V4X"
    assert normalize_id(f"pkg.{ulid}", prefix="pkg") == f"pkg.{ulid}"
    assert normalize_id(ulid.lower(), prefix="pkg") == f"pkg.{ulid}"
    with pytest.raises(DomainError) as excinfo:
        normalize_id(f"psh.{ulid}", prefix="pkg")
    assert domain_error_status(excinfo.value) == 404


def test_log_lines_carry_the_job_id_in_json() -> None:
    from pythonjsonlogger.json import JsonFormatter

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(JobContextFilter())
    handler.setFormatter(JsonFormatter("%(levelname)s %(message)s"))
    logger = logging.getLogger("tests.jobs")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        with job_context("pkg.01JD5V7Q3S8K2M4N6P8R0T2V4X"):
            logger.info("resolving")
        logger.info("idle")
    finally:
        logger.removeHandler(handler)
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["job_id"] == "pkg.01JD5V7Q3S8K2M4N6P8R0T2V4X" and first["message"] == "resolving"
    assert second["job_id"] is None


@pytest.mark.django_db
def test_malformed_and_deep_json_bodies_are_client_errors(curator_client: APIClient) -> None:
    response = curator_client.post(
        "/api/v1/catalog/sync-storage", data="{not json", content_type="application/json"
    )
    assert response.status_code == 400
    deep = "[" * 100_000 + "]" * 100_000
    response = curator_client.post(
        "/api/v1/catalog/sync-storage", data=deep, content_type="application/json"
    )
    assert response.status_code in (400, 413)


@pytest.mark.django_db
def test_oversized_json_body_is_413(curator_client: APIClient, settings) -> None:  # type: ignore[no-untyped-def]
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = curator_client.post(
        "/api/v1/catalog/sync-storage",
        data=json.dumps({"uri": "x" * 5000}),
        content_type="application/json",
    )
    assert response.status_code == 413


def test_health_module_checks_are_named() -> None:
    assert set(health.CHECKS) == {"database", "broker", "s3"}


@pytest.mark.django_db
def test_unknown_api_path_is_json_404(viewer_client: APIClient) -> None:
    response = viewer_client.get("/api/v1/no-such-thing")
    assert response.status_code == 404
    assert response.json()["message"].startswith("No such endpoint")


@pytest.mark.django_db
def test_declared_periodic_tasks_are_stored_for_beat() -> None:
    from django_celery_beat.models import PeriodicTask

    from datasharing.beat import PREFIX, PeriodicTaskSpec, register_periodic, sync_periodic_tasks

    register_periodic(PeriodicTaskSpec(name="test-tick", task="tests.tick", every_seconds=60))
    sync_periodic_tasks()
    task = PeriodicTask.objects.get(name=PREFIX + "test-tick")
    assert task.enabled and task.interval is not None and task.interval.every == 60
    from datasharing import beat

    del beat._registry["test-tick"]
    sync_periodic_tasks()
    assert PeriodicTask.objects.get(name=PREFIX + "test-tick").enabled is False


def test_query_dates_are_compared_in_utc_and_out_of_range_ones_are_refused() -> None:
    from django.http import QueryDict
    from rest_framework.exceptions import ValidationError

    from datasharing.query import query_datetime

    value = query_datetime(QueryDict("after=2024-11-01T10:00:00%2B10:00"), "after")
    assert value == dt.datetime(2024, 11, 1, 0, 0, tzinfo=dt.UTC)
    assert query_datetime(QueryDict("after=2024-11-01"), "after") == dt.datetime(
        2024, 11, 1, tzinfo=dt.UTC
    )
    for raw in ("0001-01-01T00:00:00%2B01:00", "9999-12-31T23:00:00-05:00"):
        with pytest.raises(ValidationError, match="out of range"):
            query_datetime(QueryDict(f"after={raw}"), "after")


def test_the_embedded_s3_server_takes_writes_in_many_buckets(tmp_path: Path) -> None:
    """`make run` and the tests start SeaweedFS with `datasharing.seaweed`: a new bucket must not
    use up the volume budget (by default each took 7 volumes and the 29th bucket failed)."""
    import boto3

    from datasharing.seaweed import start_seaweedfs

    server = start_seaweedfs(tmp_path / "weed", access_key="ak", secret_key="sk")
    try:
        client = boto3.client(
            "s3",
            endpoint_url=server.endpoint_url,
            aws_access_key_id="ak",
            aws_secret_access_key="sk",
            region_name="us-east-1",
        )
        for number in range(40):  # the old setup failed at the 29th
            client.create_bucket(Bucket=f"many-{number}")
            client.put_object(Bucket=f"many-{number}", Key="k", Body=b"x")
        assert client.get_object(Bucket="many-39", Key="k")["Body"].read() == b"x"
    finally:
        server.stop()
