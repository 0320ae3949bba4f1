"""ICAv2: the REST client against the fake server, and pushes into a project folder."""

from __future__ import annotations

import logging
import socket
from typing import Any

import pytest

from datasharing.seaweed import free_port
from sharing_app.destinations.destination import parse_destination
from sharing_app.push import icav2, services
from sharing_app.push.models import PushFile, PushFileStatus, PushJob, PushStatus
from tests.sharing_app.conftest import file_body

FILES = (
    ("fastq/RUN1/Lane_1/L1/L1_R1.fastq.gz", 1000),
    ("fastq/RUN1/Lane_1/L1/L1_R2.fastq.gz", 1500),
    ("secondary-analysis/wts/2024111463c05a04/L2.bam", 4000),
)


# --- Client ---------------------------------------------------------------------------------------


def test_client_resolves_projects_by_id_and_by_exact_name(fake_icav2) -> None:
    cup = fake_icav2.add_project("CUP")
    fake_icav2.add_project("CUP-archive")
    client = icav2.client()
    assert client.resolve_project(cup.id) == icav2.Icav2Project(cup.id, "CUP")
    assert client.resolve_project("CUP") == icav2.Icav2Project(cup.id, "CUP")
    with pytest.raises(icav2.Icav2Error) as missing:
        client.resolve_project("PanCan")
    assert missing.value.status == 404


def test_client_refuses_an_ambiguous_project_name(fake_icav2) -> None:
    first = fake_icav2.add_project("Shared")
    second = fake_icav2.add_project("Shared")
    with pytest.raises(icav2.Icav2Error) as ambiguous:
        icav2.client().resolve_project("Shared")
    assert ambiguous.value.status == 409
    assert first.id in ambiguous.value.message and second.id in ambiguous.value.message


def test_ensure_folder_creates_the_tree_once(fake_icav2) -> None:
    project = fake_icav2.add_project("CUP")
    client = icav2.client()
    folder = client.ensure_folder(project.id, "/deliveries/2024/batch1/")
    again = client.ensure_folder(project.id, "/deliveries/2024/batch1/")
    assert folder.id == again.id and folder.path == "/deliveries/2024/batch1/"
    assert {"/deliveries/", "/deliveries/2024/", "/deliveries/2024/batch1/"} <= set(project.folders)
    assert sum(1 for method, path in fake_icav2.requests if method == "POST") == 1


def test_upload_credentials_carry_bucket_prefix_and_session_token(fake_icav2) -> None:
    project = fake_icav2.add_project("CUP")
    client = icav2.client()
    folder = client.ensure_folder(project.id, "/in/")
    credentials = client.create_upload_credentials(project.id, folder.id)
    issued = fake_icav2.credentials_issued[-1]
    assert credentials.bucket == fake_icav2.storage_bucket
    assert credentials.object_prefix == fake_icav2.storage_key(project.id, "/in/")
    assert (credentials.access_key, credentials.session_token) == (
        issued["accessKey"],
        issued["sessionToken"],
    )
    assert issued["secretKey"] not in repr(credentials)


def test_client_retries_throttling_and_server_errors(fake_icav2) -> None:
    project = fake_icav2.add_project("CUP")
    fake_icav2.fail("GET", f"/projects/{project.id}", 429, times=1)
    fake_icav2.fail("GET", f"/projects/{project.id}", 503, times=1)
    client = icav2.Icav2Client(
        base_url=fake_icav2.base_url, api_key=fake_icav2.api_key, backoff_base=0.01
    )
    assert client.get_project(project.id) == icav2.Icav2Project(project.id, "CUP")


def test_client_reports_a_refused_api_key_without_retrying(fake_icav2) -> None:
    client = icav2.Icav2Client(base_url=fake_icav2.base_url, api_key="wrong-key", backoff_base=0.01)
    with pytest.raises(icav2.Icav2Error) as refused:
        client.find_projects_by_name("CUP")
    assert refused.value.status == 401
    assert "wrong-key" not in refused.value.message
    assert len(fake_icav2.requests) == 1


def test_client_accepts_a_bearer_token(fake_icav2) -> None:
    fake_icav2.access_token = "jwt-token"
    project = fake_icav2.add_project("CUP")
    client = icav2.Icav2Client(base_url=fake_icav2.base_url, access_token="jwt-token")
    assert client.get_project(project.id) is not None


def test_client_retries_an_unreachable_server_then_says_so(caplog) -> None:
    client = icav2.Icav2Client(
        base_url=f"http://127.0.0.1:{free_port()}/ica/rest",
        api_key="key",
        max_attempts=2,
        backoff_base=0.01,
    )
    with (
        caplog.at_level(logging.WARNING, logger="sharing_app.push.icav2"),
        pytest.raises(icav2.Icav2Error) as unreachable,
    ):
        client.get_project("3c1cbd8a-0000-4000-8000-000000000001")
    assert unreachable.value.status == 0
    assert unreachable.value.message.startswith("ICAv2 unreachable (GET /projects/3c1cbd8a")
    assert sum("retrying" in record.message for record in caplog.records) == 1


def test_client_gives_up_on_a_server_that_does_not_answer_within_the_timeout() -> None:
    with socket.create_server(("127.0.0.1", 0)) as silent:  # accepts, never answers
        port = silent.getsockname()[1]
        client = icav2.Icav2Client(
            base_url=f"http://127.0.0.1:{port}/ica/rest",
            api_key="key",
            timeout=0.3,
            max_attempts=1,
        )
        with pytest.raises(icav2.Icav2Error, match=r"ICAv2 unreachable .*Timeout") as silence:
            client.find_projects_by_name("CUP")
    assert silence.value.status == 0


def test_client_needs_credentials() -> None:
    with pytest.raises(icav2.Icav2Error, match="ICAV2_API_KEY"):
        icav2.Icav2Client(base_url="http://127.0.0.1:9/ica/rest")


# --- Pushes -------------------------------------------------------------------------------------


@pytest.fixture
def run_push(django_capture_on_commit_callbacks, curator):  # type: ignore[no-untyped-def]
    def run(package: Any, destination: str) -> PushJob:
        with django_capture_on_commit_callbacks(execute=True):
            job = services.push_create(
                package=package, destination=parse_destination(destination), user=curator
            )
        job.refresh_from_db()
        return job

    return run


@pytest.mark.django_db
def test_icav2_push_uploads_every_file_into_the_project_folder(
    fake_icav2, source_files, package_factory, allow_destination, run_push, finished_pushes
) -> None:
    project = fake_icav2.add_project("CUP")
    files = source_files(*FILES)
    package = package_factory(files)

    job = run_push(package, allow_destination("icav2://CUP/deliveries/batch1/"))

    assert job.status == PushStatus.SUCCEEDED, job.error_message
    assert (job.icav2_project_id, job.icav2_folder_path) == (project.id, "/deliveries/batch1/")
    assert job.icav2_folder_id == project.folders["/deliveries/batch1/"]
    assert (job.succeeded_count, job.failed_count, job.transferred_bytes) == (3, 0, 6500)
    rows = {row.relative_path: row for row in PushFile.objects.filter(job=job)}
    for source in files:
        row = rows[source.relative_path]
        assert row.status == PushFileStatus.SUCCEEDED
        assert row.verification_method == "size+stream-md5"
        assert (
            row.destination_uri == f"icav2://{project.id}/deliveries/batch1/{source.relative_path}"
        )
        assert (
            fake_icav2.read_file(project.id, f"/deliveries/batch1/{source.relative_path}")
            == source.body
        )
    # The folder tree exists in the project, and the receipts sit next to the files.
    assert "/deliveries/batch1/fastq/RUN1/Lane_1/L1/" in project.folders
    assert "/deliveries/batch1/secondary-analysis/wts/2024111463c05a04/" in project.folders
    stored = set(fake_icav2.file_paths(project.id))
    assert {
        "/deliveries/batch1/manifest.tsv",
        "/deliveries/batch1/checksums.md5",
        "/deliveries/batch1/datasharing-push.started.json",
        "/deliveries/batch1/datasharing-push.completed.json",
    } <= stored
    assert not any("write-check" in path for path in stored)
    assert finished_pushes == [{"push_job_id": job.id, "status": "SUCCEEDED"}]


@pytest.mark.django_db
def test_icav2_push_by_project_id_streams_large_files_in_parts(
    fake_icav2, source_files, package_factory, allow_destination, run_push, settings
) -> None:
    settings.ICAV2_MULTIPART_THRESHOLD = 5 * 1024**2
    settings.ICAV2_PART_SIZE = 5 * 1024**2
    project = fake_icav2.add_project("PanCan")
    files = source_files(("big.bam", 12 * 1024**2 + 5))
    package = package_factory(files)

    job = run_push(package, allow_destination(f"icav2://{project.id}/in/"))

    assert job.status == PushStatus.SUCCEEDED, job.error_message
    row = PushFile.objects.get(job=job)
    assert row.destination_etag.endswith("-3")
    assert row.verification_method == "size+stream-md5"
    assert fake_icav2.read_file(project.id, "/in/big.bam") == file_body("big.bam", 12 * 1024**2 + 5)


@pytest.mark.django_db
def test_icav2_push_again_skips_identical_files(
    fake_icav2, source_files, package_factory, allow_destination, run_push
) -> None:
    fake_icav2.add_project("CUP")
    package = package_factory(source_files(*FILES))
    destination = allow_destination("icav2://CUP/in/")
    assert run_push(package, destination).status == PushStatus.SUCCEEDED
    second = run_push(package, destination)
    assert second.status == PushStatus.SUCCEEDED
    assert set(PushFile.objects.filter(job=second).values_list("status", flat=True)) == {"SKIPPED"}


@pytest.mark.django_db
def test_icav2_push_to_an_unknown_project_fails_with_a_clear_error(
    fake_icav2, source_files, package_factory, allow_destination, run_push
) -> None:
    package = package_factory(source_files(*FILES[:1]))
    job = run_push(package, allow_destination("icav2://NoSuchProject/in/"))
    assert job.status == PushStatus.FAILED
    assert "No ICAv2 project with id or name 'NoSuchProject'" in job.error_message


@pytest.mark.django_db
def test_icav2_push_with_a_refused_key_fails_and_never_logs_secrets(
    fake_icav2, source_files, package_factory, allow_destination, run_push, settings, caplog
) -> None:
    caplog.set_level(logging.DEBUG)
    fake_icav2.add_project("CUP")
    package = package_factory(source_files(*FILES[:1]))
    good = run_push(package, allow_destination("icav2://CUP/in/"))
    assert good.status == PushStatus.SUCCEEDED
    settings.ICAV2_API_KEY = "revoked-key-value"

    job = run_push(package, allow_destination("icav2://CUP/other/"))

    assert job.status == PushStatus.FAILED
    assert "401" in job.error_message
    secrets = [fake_icav2.api_key, "revoked-key-value"]
    for issued in fake_icav2.credentials_issued:
        secrets += [issued["secretKey"], issued["sessionToken"]]
    for secret in secrets:
        assert secret not in caplog.text
        assert secret not in job.error_message


@pytest.mark.django_db
def test_icav2_uploads_use_their_own_smaller_thread_pool(
    fake_icav2, source_files, package_factory, allow_destination, run_push, settings, monkeypatch
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from sharing_app.push import runner

    settings.PUSH_COPY_CONCURRENCY = 16
    settings.ICAV2_UPLOAD_CONCURRENCY = 3
    sizes: list[int] = []

    def pool(*, max_workers: int, thread_name_prefix: str) -> ThreadPoolExecutor:
        sizes.append(max_workers)
        return ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix=thread_name_prefix)

    monkeypatch.setattr(runner, "ThreadPoolExecutor", pool)
    fake_icav2.add_project("CUP")
    job = run_push(package_factory(source_files(*FILES)), allow_destination("icav2://CUP/in/"))
    assert job.status == PushStatus.SUCCEEDED
    assert sizes and set(sizes) == {3}
