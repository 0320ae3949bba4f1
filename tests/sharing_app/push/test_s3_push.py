"""S3-to-S3 pushes against SeaweedFS: copies, skips, multipart, verification, receipts, faults."""

from __future__ import annotations

import json
from typing import Any

import pytest

from datasharing import s3
from packages_app.models import PackageFile
from sharing_app.destinations.destination import parse_destination
from sharing_app.push import services, tasks
from sharing_app.push.models import PushFile, PushFileStatus, PushJob, PushStatus
from tests.s3_fault_proxy import Rule, is_copy
from tests.sharing_app.conftest import SourceFile, file_body, read_object

pytestmark = pytest.mark.django_db

FILES = (
    ("fastq/RUN1/Lane_1/L1/L1_R1.fastq.gz", 1000),
    ("fastq/RUN1/Lane_1/L1/L1_R2.fastq.gz", 1200),
    ("secondary-analysis/tumor-normal/2024111463c05a04/L1.bam", 5000),
    ("secondary-analysis/tumor-normal/2024111463c05a04/L1.bam.bai", 0),
    ("secondary-analysis/tumor-normal/2024111463c05a04/report.html", 300),
)


@pytest.fixture
def run_push(django_capture_on_commit_callbacks, curator):  # type: ignore[no-untyped-def]
    """Create a push and run every task it queues (eagerly, in this process)."""

    def run(package: Any, destination: str, user: Any = None) -> PushJob:
        with django_capture_on_commit_callbacks(execute=True):
            job = services.push_create(
                package=package, destination=parse_destination(destination), user=user or curator
            )
        job.refresh_from_db()
        return job

    return run


def ledger(job: PushJob) -> dict[str, PushFile]:
    return {row.relative_path: row for row in PushFile.objects.filter(job=job)}


def test_push_copies_every_file_verifies_it_and_writes_receipts(
    source_files,
    package_factory,
    dest_factory,
    allow_destination,
    curator,
    run_push,
    finished_pushes,
) -> None:
    files = source_files(*FILES)
    package = package_factory(files, user=curator)
    dest = dest_factory()

    job = run_push(package, allow_destination(dest.uri + "incoming/"))

    assert job.status == PushStatus.SUCCEEDED, job.error_message
    assert (job.file_count, job.succeeded_count, job.skipped_count, job.failed_count) == (
        5,
        5,
        0,
        0,
    )
    assert job.transferred_bytes == job.total_bytes == sum(size for _, size in FILES)
    assert job.requested_by_name == curator.username
    rows = ledger(job)
    assert len(rows) == 5
    for source in files:
        row = rows[source.relative_path]
        assert row.status == PushFileStatus.SUCCEEDED
        assert row.verification_method == "etag"
        assert row.destination_uri == f"{dest.uri}incoming/{source.relative_path}"
        assert row.source_uri == f"s3://{source.bucket}/{source.key}"
        assert row.destination_etag == source.md5
        assert row.attempts == 1
        assert row.completed_at is not None
        assert read_object(dest.bucket, dest.key(f"incoming/{source.relative_path}")) == source.body
    keys = {obj.key.removeprefix(dest.prefix) for obj in s3.list_objects(dest.bucket, dest.prefix)}
    assert {
        "incoming/manifest.tsv",
        "incoming/checksums.md5",
        "incoming/datasharing-push.started.json",
        "incoming/datasharing-push.completed.json",
    } <= keys
    assert not any(".datasharing-write-check" in key for key in keys)
    start = json.loads(read_object(dest.bucket, dest.key("incoming/datasharing-push.started.json")))
    assert start["pushJobId"] == job.id and start["fileCount"] == 5
    end = json.loads(read_object(dest.bucket, dest.key("incoming/datasharing-push.completed.json")))
    assert end["status"] == "SUCCEEDED" and end["succeededCount"] == 5
    manifest = read_object(dest.bucket, dest.key("incoming/manifest.tsv")).decode()
    assert all(f.relative_path in manifest for f in files)
    checksums = read_object(dest.bucket, dest.key("incoming/checksums.md5")).decode()
    assert f"{files[0].md5}  {files[0].relative_path}" in checksums
    assert finished_pushes == [{"push_job_id": job.id, "status": "SUCCEEDED"}]


def test_push_copies_the_package_report_when_there_is_one(
    source_files, package_factory, dest_factory, allow_destination, run_push
) -> None:
    from django.conf import settings

    from packages_app.report.artifacts import package_artifacts_write

    package = package_factory(source_files(("fastq/a.fastq.gz", 10)))
    package_artifacts_write(package=package)  # as the packaging pipeline does
    assert package.report_html_key and package.report_pdf_key
    dest = dest_factory()

    job = run_push(package, allow_destination(dest.uri))

    assert job.status == PushStatus.SUCCEEDED, job.error_message
    for key in (package.report_html_key, package.report_pdf_key):
        name = key.rsplit("/", 1)[-1]
        assert name.startswith(f"SummaryReport.{package.package_name}.")
        assert read_object(dest.bucket, dest.key(name)) == read_object(
            settings.ARTIFACT_BUCKET, key
        )


def test_push_skips_files_already_identical_at_destination(
    source_files, package_factory, dest_factory, allow_destination, run_push
) -> None:
    files = source_files(*FILES)
    package = package_factory(files)
    dest = dest_factory()
    # Two files already there, identical; one with the same size but other content.
    s3.put_object(dest.bucket, dest.key(f"in/{files[0].relative_path}"), files[0].body)
    s3.put_object(dest.bucket, dest.key(f"in/{files[2].relative_path}"), files[2].body)
    s3.put_object(dest.bucket, dest.key(f"in/{files[1].relative_path}"), b"x" * len(files[1].body))

    job = run_push(package, allow_destination(dest.uri + "in/"))

    assert job.status == PushStatus.SUCCEEDED, job.error_message
    rows = ledger(job)
    assert rows[files[0].relative_path].status == PushFileStatus.SKIPPED
    assert rows[files[0].relative_path].verification_method == "etag"
    assert rows[files[2].relative_path].status == PushFileStatus.SKIPPED
    assert rows[files[1].relative_path].status == PushFileStatus.SUCCEEDED
    assert read_object(dest.bucket, dest.key(f"in/{files[1].relative_path}")) == files[1].body
    assert (job.succeeded_count, job.skipped_count) == (3, 2)
    assert job.transferred_bytes == job.total_bytes - len(files[0].body) - len(files[2].body)


def test_pushing_again_skips_everything_and_keeps_one_ledger_per_job(
    source_files, package_factory, dest_factory, allow_destination, run_push
) -> None:
    package = package_factory(source_files(*FILES))
    destination = allow_destination(dest_factory().uri)
    first = run_push(package, destination)
    second = run_push(package, destination)

    assert first.status == second.status == PushStatus.SUCCEEDED
    assert {row.status for row in ledger(second).values()} == {PushFileStatus.SKIPPED}
    assert (
        PushFile.objects.filter(job=first).count()
        == PushFile.objects.filter(job=second).count()
        == 5
    )


def test_large_files_are_copied_with_upload_part_copy(
    source_files, package_factory, dest_factory, allow_destination, run_push, settings
) -> None:
    settings.PUSH_MULTIPART_THRESHOLD = 6 * 1024**2
    settings.PUSH_MULTIPART_PART_SIZE = 5 * 1024**2
    files = source_files(("big.bam", 12 * 1024**2 + 17), ("small.txt", 10))
    package = package_factory(files)
    dest = dest_factory()

    job = run_push(package, allow_destination(dest.uri))

    assert job.status == PushStatus.SUCCEEDED, job.error_message
    big = ledger(job)["big.bam"]
    assert big.status == PushFileStatus.SUCCEEDED
    # Three parts of 5 MiB, 5 MiB and 2 MiB + 17 bytes: a multipart ETag.
    assert big.destination_etag.endswith("-3")
    assert big.verification_method in {"size+part-etags", "size"}
    assert read_object(dest.bucket, dest.key("big.bam")) == files[0].body
    assert ledger(job)["small.txt"].verification_method == "etag"


def test_multipart_copy_mirrors_the_part_size_of_a_multipart_source(
    dest_factory, package_factory, allow_destination, run_push, settings
) -> None:
    settings.PUSH_MULTIPART_THRESHOLD = 6 * 1024**2
    settings.PUSH_MULTIPART_PART_SIZE = 64 * 1024**2
    place = dest_factory("src")
    source, key = place.bucket, place.key("mp.bam")
    body = file_body("mp", 16 * 1024**2)
    client = s3.client()
    upload = client.create_multipart_upload(Bucket=source, Key=key)["UploadId"]
    parts = []
    for number, first, last in s3.part_ranges(len(body), 6 * 1024**2):
        etag = client.upload_part(
            Bucket=source, Key=key, UploadId=upload, PartNumber=number, Body=body[first : last + 1]
        )["ETag"]
        parts.append({"PartNumber": number, "ETag": etag})
    client.complete_multipart_upload(
        Bucket=source, Key=key, UploadId=upload, MultipartUpload={"Parts": parts}
    )
    package = package_factory([SourceFile(source, key, "mp.bam", body)])
    dest = dest_factory()

    job = run_push(package, allow_destination(dest.uri))

    assert job.status == PushStatus.SUCCEEDED, job.error_message
    # Same part layout as the source (6 MiB parts, not the configured 64 MiB): three parts.
    assert ledger(job)["mp.bam"].destination_etag.endswith("-3")
    assert read_object(dest.bucket, dest.key("mp.bam")) == body


def test_a_source_changed_since_the_package_was_frozen_fails_that_file(
    source_files, package_factory, dest_factory, allow_destination, run_push, finished_pushes
) -> None:
    files = source_files(*FILES[:3])
    package = package_factory(files)
    s3.put_object(files[1].bucket, files[1].key, b"rewritten after freezing")
    dest = dest_factory()

    job = run_push(package, allow_destination(dest.uri))

    assert job.status == PushStatus.FAILED
    assert "1 of 3 files failed" in job.error_message
    assert files[1].relative_path in job.error_message
    row = ledger(job)[files[1].relative_path]
    assert row.status == PushFileStatus.FAILED
    assert "changed since the package was frozen" in row.error
    assert s3.head_object(dest.bucket, dest.key(files[1].relative_path)) is None
    assert ledger(job)[files[0].relative_path].status == PushFileStatus.SUCCEEDED
    # No receipts for an incomplete push; the end marker says what happened.
    assert s3.head_object(dest.bucket, dest.key("manifest.tsv")) is None
    end = json.loads(read_object(dest.bucket, dest.key("datasharing-push.completed.json")))
    assert end["status"] == "FAILED" and end["failedCount"] == 1
    assert finished_pushes == [{"push_job_id": job.id, "status": "FAILED"}]


def test_a_size_mismatch_found_by_reading_back_fails_that_file(
    source_files, package_factory, dest_factory, allow_destination, run_push, settings
) -> None:
    settings.PUSH_VERIFY_READBACK = True
    files = source_files(*FILES[:2])
    package = package_factory(files)
    PackageFile.objects.filter(package=package, relative_path=files[0].relative_path).update(
        size=len(files[0].body) + 1
    )
    dest = dest_factory()

    job = run_push(package, allow_destination(dest.uri))

    row = ledger(job)[files[0].relative_path]
    assert row.status == PushFileStatus.FAILED
    assert "size mismatch" in row.error
    assert job.status == PushStatus.FAILED


def test_throttling_is_retried_with_backoff_and_recorded_as_attempts(
    source_files, package_factory, dest_factory, allow_destination, run_push, settings, s3_proxy
) -> None:
    settings.S3_MAX_ATTEMPTS = 0  # no client-level retries: our own per-file retries are tested
    settings.PUSH_RETRY_BASE_SECONDS = 0.01
    files = source_files(("only.fastq.gz", 100))
    package = package_factory(files)
    dest = dest_factory()
    slow_down = s3_proxy.add(Rule(is_copy, status=503, times=2))

    job = run_push(package, allow_destination(dest.uri))

    assert job.status == PushStatus.SUCCEEDED, job.error_message
    assert slow_down.hits == 2
    row = ledger(job)["only.fastq.gz"]
    assert row.attempts == 3
    assert read_object(dest.bucket, dest.key("only.fastq.gz")) == files[0].body


def test_a_copy_answered_200_ok_with_an_error_body_is_retried_not_trusted(
    source_files, package_factory, dest_factory, allow_destination, run_push, settings, s3_proxy
) -> None:
    settings.S3_MAX_ATTEMPTS = 0  # no client-level retries: the file is attempted again
    settings.PUSH_RETRY_BASE_SECONDS = 0.01
    files = source_files(("only.fastq.gz", 100))
    dest = dest_factory()
    error_body = s3_proxy.add(Rule(is_copy, ok_with_error=True, times=1))

    job = run_push(package_factory(files), allow_destination(dest.uri))

    assert job.status == PushStatus.SUCCEEDED, job.error_message
    assert error_body.hits == 1
    row = ledger(job)["only.fastq.gz"]
    assert (row.attempts, row.verification_method) == (2, "etag")
    assert read_object(dest.bucket, dest.key("only.fastq.gz")) == files[0].body


def test_a_file_failing_after_every_retry_fails_cleanly_with_the_error(
    source_files, package_factory, dest_factory, allow_destination, run_push, settings, s3_proxy
) -> None:
    settings.S3_MAX_ATTEMPTS = 0
    settings.PUSH_FILE_MAX_ATTEMPTS = 3
    settings.PUSH_RETRY_BASE_SECONDS = 0.01
    files = source_files(("a.fastq.gz", 100), ("b.fastq.gz", 100))
    package = package_factory(files)
    dest = dest_factory()
    s3_proxy.add(Rule(lambda m, p, h: is_copy(m, p, h) and p.endswith("/a.fastq.gz"), status=500))

    job = run_push(package, allow_destination(dest.uri))

    assert job.status == PushStatus.FAILED
    row = ledger(job)["a.fastq.gz"]
    assert row.status == PushFileStatus.FAILED
    assert row.attempts == 3
    assert "InternalError" in row.error
    assert ledger(job)["b.fastq.gz"].status == PushFileStatus.SUCCEEDED


def test_write_check_failure_fails_the_push_before_any_copy(
    source_files, package_factory, dest_factory, allow_destination, run_push, settings, s3_proxy
) -> None:
    settings.S3_MAX_ATTEMPTS = 0
    files = source_files(*FILES[:2])
    package = package_factory(files)
    dest = dest_factory()
    s3_proxy.add(
        Rule(
            lambda m, p, h: m == "PUT" and p.startswith(f"/{dest.bucket}/{dest.prefix}"), status=403
        )
    )

    job = run_push(package, allow_destination(dest.uri))

    assert job.status == PushStatus.FAILED
    assert job.error_message.startswith(f"Write check failed for {dest.uri}")
    assert "AccessDenied" in job.error_message
    assert not any(is_copy(m, p, {}) for m, p in s3_proxy.requests)
    assert not PushFile.objects.filter(job=job).exists()


def test_a_redelivered_copier_copies_nothing_twice(
    source_files, package_factory, dest_factory, allow_destination, run_push, s3_proxy
) -> None:
    package = package_factory(source_files(*FILES))
    job = run_push(package, allow_destination(dest_factory().uri))
    requests_before = len(s3_proxy.requests)

    tasks.push_copy(job.id)

    assert len(s3_proxy.requests) == requests_before
    assert PushFile.objects.filter(job=job).count() == 5
    job.refresh_from_db()
    assert job.status == PushStatus.SUCCEEDED and job.succeeded_count == 5


def test_pushes_fan_out_copiers_that_share_the_files(
    source_files,
    package_factory,
    dest_factory,
    allow_destination,
    settings,
    django_capture_on_commit_callbacks,
    curator,
    monkeypatch,
    s3_proxy,
) -> None:
    settings.PUSH_BATCH_SIZE = 2
    files = source_files(*FILES)
    dest = dest_factory()
    runs: list[str] = []
    original = services.push_copy
    monkeypatch.setattr(
        services, "push_copy", lambda **kw: (runs.append(kw["push_job_id"]), original(**kw))
    )
    with django_capture_on_commit_callbacks(execute=True):
        job = services.push_create(
            package=package_factory(files),
            destination=parse_destination(allow_destination(dest.uri)),
            user=curator,
        )
    job.refresh_from_db()
    assert job.status == PushStatus.SUCCEEDED
    assert runs == [job.id] * 3  # 5 files, one copier per 2 (eagerly, the first does all)
    copies = [p for m, p in s3_proxy.requests if m == "PUT" and p.startswith(f"/{dest.bucket}/")]
    for file in files:
        assert copies.count(f"/{dest.bucket}/{dest.key(file.relative_path)}") == 1
    assert set(PushFile.objects.filter(job=job).values_list("attempts", flat=True)) == {1}


def test_a_copier_whose_time_slice_ends_hands_over_to_a_successor(
    source_files,
    package_factory,
    dest_factory,
    allow_destination,
    settings,
    django_capture_on_commit_callbacks,
    curator,
    monkeypatch,
) -> None:
    settings.PUSH_COPIER_SLICE_SECONDS = 0
    settings.PUSH_COPY_CONCURRENCY = 1
    settings.PUSH_BATCH_SIZE = 1000
    files = source_files(*[(f"f/{n:02d}.txt", 10) for n in range(40)])
    runs: list[str] = []
    original = services.push_copy
    monkeypatch.setattr(
        services, "push_copy", lambda **kw: (runs.append(kw["push_job_id"]), original(**kw))
    )
    with django_capture_on_commit_callbacks(execute=True):
        job = services.push_create(
            package=package_factory(files),
            destination=parse_destination(allow_destination(dest_factory().uri)),
            user=curator,
        )
    job.refresh_from_db()
    assert job.status == PushStatus.SUCCEEDED
    # One claim of 16 files per copier before its slice ends: 16 + 16 + 8.
    assert len(runs) == 3
    assert PushFile.objects.filter(job=job, status="SUCCEEDED").count() == 40


def test_fresh_copies_are_verified_by_the_etag_s3_returns_without_extra_requests(
    source_files, package_factory, dest_factory, allow_destination, run_push, s3_proxy
) -> None:
    files = source_files(*FILES)
    dest = dest_factory()

    job = run_push(package_factory(files), allow_destination(dest.uri))

    assert job.status == PushStatus.SUCCEEDED
    assert {row.verification_method for row in ledger(job).values()} == {"etag"}
    # Per file: one CopyObject. Listings: the write check and the emptiness check only.
    ours = [(m, p) for m, p in s3_proxy.requests if p.startswith(f"/{dest.bucket}")]
    for file in files:
        path = f"/{dest.bucket}/{dest.key(file.relative_path)}"
        assert [m for m, p in ours if p.split("?")[0] == path] == ["PUT"]
    assert sum(1 for m, p in ours if m == "GET" and "list-type=2" in p) == 2


def test_a_copy_reported_with_an_unexpected_etag_is_read_back_before_it_is_trusted(
    source_files, package_factory, dest_factory, allow_destination, run_push, s3_proxy
) -> None:
    files = source_files(("odd.bam", 64))
    dest = dest_factory()
    s3_proxy.add(Rule(is_copy, rewrite_etag="0123456789abcdef0123456789abcdef"))

    job = run_push(package_factory(files), allow_destination(dest.uri))

    # What S3 said does not match the source; what it stores does: verified by reading it back.
    row = ledger(job)["odd.bam"]
    assert row.status == PushFileStatus.SUCCEEDED
    assert row.destination_etag == files[0].md5
    reads = [
        (m, p)
        for m, p in s3_proxy.requests
        if p.startswith(f"/{dest.bucket}") and (m == "HEAD" or "list-type=2" in p)
    ]
    assert reads[-1] == ("HEAD", f"/{dest.bucket}/{dest.key('odd.bam')}")


def test_automation_pushes_without_a_user(
    source_files,
    package_factory,
    dest_factory,
    allow_destination,
    django_capture_on_commit_callbacks,
) -> None:
    dest = dest_factory()
    with django_capture_on_commit_callbacks(execute=True):
        job = services.push_create(
            package=package_factory(source_files(("a.txt", 5))),
            destination=parse_destination(allow_destination(dest.uri)),
            user=None,
        )
    job.refresh_from_db()
    assert job.status == PushStatus.SUCCEEDED
    assert job.requested_by is None and job.requested_by_name == ""
