"""Resumability: real Celery workers killed mid-push, reconciliation, abort while running."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator

import pytest
from django.db.models import Count
from django.utils import timezone

from datasharing import s3
from sharing_app.destinations.destination import parse_destination
from sharing_app.push import services
from sharing_app.push.models import PushFile, PushFileStatus, PushJob, PushStatus, PushStep
from tests.conftest import WorkerProcess, wait_for
from tests.s3_fault_proxy import Rule, S3FaultProxy, is_copy
from tests.sharing_app.conftest import read_object

WORKER_SETTINGS = {
    "PUSH_BATCH_SIZE": "4",
    "PUSH_COPY_CONCURRENCY": "2",
    "PUSH_HEARTBEAT_SECONDS": "0.5",
    "PUSH_STALE_AFTER_SECONDS": "3",
}


@pytest.fixture
def slow_s3(monkeypatch, settings) -> Iterator[S3FaultProxy]:  # type: ignore[no-untyped-def]
    """Copies take 0.3 s (a slow network), for this process and for workers started after it."""
    import os

    proxy = S3FaultProxy(os.environ["AWS_ENDPOINT_URL_S3"]).start()
    proxy.add(Rule(is_copy, delay=0.3))
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", proxy.url)
    for name, value in WORKER_SETTINGS.items():
        monkeypatch.setenv(name, value)
    settings.AWS_ENDPOINT_URL_S3 = proxy.url
    settings.PUSH_STALE_AFTER_SECONDS = 3
    try:
        yield proxy
    finally:
        proxy.stop()


def file_states(job: PushJob) -> dict[str, int]:
    return dict(
        PushFile.objects.filter(job=job).values_list("status").annotate(n=Count("id")).order_by()
    )


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_push_loses_and_duplicates_nothing(
    slow_s3, celery_worker, source_files, package_factory, dest_factory, allow_destination, curator
) -> None:
    files = source_files(*[(f"fastq/RUN1/L{n:03d}.fastq.gz", 100 + n) for n in range(32)])
    package = package_factory(files)
    dest = dest_factory()
    job = services.push_create(
        package=package, destination=parse_destination(allow_destination(dest.uri)), user=curator
    )

    wait_for(
        lambda: (
            file_states(job).get("SUCCEEDED", 0) >= 4
            and file_states(job).get("IN_PROGRESS", 0) >= 1
        ),
        timeout=60,
        message=f"push did not get going: {file_states(job)}\n{celery_worker.log()}",
    )
    celery_worker.kill()
    at_kill = file_states(job)
    assert at_kill.get("PENDING", 0) + at_kill.get("IN_PROGRESS", 0) > 0, at_kill

    replacement = WorkerProcess(celery_worker.database_name)
    replacement.start()
    try:
        reconciled: list[dict[str, int]] = []

        def finished() -> bool:
            # What beat would do every PUSH_RECONCILE_INTERVAL_SECONDS.
            reconciled.append(services.push_reconcile())
            job.refresh_from_db()
            return job.is_terminal

        wait_for(
            finished, timeout=90, interval=1.0, message=f"{file_states(job)}\n{replacement.log()}"
        )
    finally:
        replacement.stop()

    assert job.status == PushStatus.SUCCEEDED, job.error_message
    rows = list(PushFile.objects.filter(job=job))
    assert len(rows) == len(files) == job.file_count
    assert len({row.relative_path for row in rows}) == len(files)
    assert all(row.status == PushFileStatus.SUCCEEDED for row in rows), file_states(job)
    assert all(row.verification_method and row.completed_at for row in rows)
    # Files in flight when the worker died were claimed again (and found complete, or copied).
    assert any(row.attempts >= 2 for row in rows)
    # Only reconciliation can have handed the dead worker's files out again.
    assert sum(result.get("files_requeued", 0) for result in reconciled) >= 1
    assert (job.succeeded_count, job.failed_count, job.skipped_count) == (len(files), 0, 0)
    for source in files:
        assert read_object(dest.bucket, dest.key(source.relative_path)) == source.body
    end = json.loads(read_object(dest.bucket, dest.key("datasharing-push.completed.json")))
    assert end["status"] == "SUCCEEDED"


@pytest.mark.django_db(transaction=True)
def test_abort_while_running_lets_files_in_flight_finish_and_copies_nothing_more(
    slow_s3, celery_worker, source_files, package_factory, dest_factory, allow_destination, curator
) -> None:
    files = source_files(*[(f"fastq/L{n:03d}.fastq.gz", 50) for n in range(24)])
    package = package_factory(files)
    dest = dest_factory()
    job = services.push_create(
        package=package, destination=parse_destination(allow_destination(dest.uri)), user=curator
    )
    wait_for(
        lambda: file_states(job).get("SUCCEEDED", 0) >= 2, timeout=60, message=celery_worker.log()
    )

    services.push_abort(push_job=job, user=curator)

    wait_for(
        lambda: (
            not PushFile.objects.filter(
                job=job, status__in=[PushFileStatus.PENDING, PushFileStatus.IN_PROGRESS]
            ).exists()
        ),
        timeout=30,
        message=f"{file_states(job)}",
    )
    job.refresh_from_db()
    assert job.status == PushStatus.ABORTED
    states = file_states(job)
    assert states.get("ABORTED", 0) > 0 and states.get("SUCCEEDED", 0) >= 2
    assert set(states) <= {"SUCCEEDED", "ABORTED"}
    copied = {
        obj.key.removeprefix(dest.prefix) for obj in s3.list_objects(dest.bucket, dest.prefix)
    }
    succeeded = set(
        PushFile.objects.filter(job=job, status="SUCCEEDED").values_list("relative_path", flat=True)
    )
    aborted = set(
        PushFile.objects.filter(job=job, status="ABORTED").values_list("relative_path", flat=True)
    )
    assert succeeded <= copied
    assert not aborted & copied
    wait_for(
        lambda: s3.head_object(dest.bucket, dest.key("datasharing-push.completed.json")),
        timeout=20,
    )
    end = json.loads(read_object(dest.bucket, dest.key("datasharing-push.completed.json")))
    assert end["status"] == "ABORTED"


# --- Reconciliation, step by step (tasks run eagerly in this process) -------------------------------


@pytest.fixture
def pushed(
    source_files,
    package_factory,
    dest_factory,
    allow_destination,
    curator,
    django_capture_on_commit_callbacks,
):  # type: ignore[no-untyped-def]
    """A push that ran to completion, and its destination."""
    files = source_files(*[(f"fastq/L{n}.fastq.gz", 10 + n) for n in range(6)])
    dest = dest_factory()
    with django_capture_on_commit_callbacks(execute=True):
        job = services.push_create(
            package=package_factory(files),
            destination=parse_destination(allow_destination(dest.uri)),
            user=curator,
        )
    job.refresh_from_db()
    assert job.status == PushStatus.SUCCEEDED
    return job, dest, files


def simulate_lost_worker(job: PushJob, paths: list[str], *, minutes_ago: int = 60) -> None:
    """Put the job back as a worker that died mid-batch would leave it."""
    long_ago = timezone.now() - dt.timedelta(minutes=minutes_ago)
    PushFile.objects.filter(job=job, relative_path__in=paths).update(
        status=PushFileStatus.IN_PROGRESS,
        claim_token="dead-worker",
        heartbeat_at=long_ago,
        verification_method="",
        completed_at=None,
    )
    PushJob.objects.filter(id=job.id).update(
        status=PushStatus.RUNNING,
        step=PushStep.COPYING,
        completion_time=None,
        last_progress_time=long_ago,
        succeeded_count=6 - len(paths),
    )


@pytest.mark.django_db
def test_reconcile_hands_files_of_a_lost_worker_out_again(
    pushed, django_capture_on_commit_callbacks
) -> None:
    job, dest, files = pushed
    lost = [files[1].relative_path, files[4].relative_path]
    simulate_lost_worker(job, lost)
    s3.delete_object(dest.bucket, dest.key(files[4].relative_path))  # died before copying this one

    with django_capture_on_commit_callbacks(execute=True):
        result = services.push_reconcile()

    assert result == {"files_requeued": 2, "jobs_resumed": 1}
    job.refresh_from_db()
    assert job.status == PushStatus.SUCCEEDED, job.error_message
    assert job.resume_count == 1
    rows = {r.relative_path: r for r in PushFile.objects.filter(job=job)}
    assert all(r.status == PushFileStatus.SUCCEEDED for r in rows.values())
    assert rows[files[1].relative_path].attempts == rows[files[4].relative_path].attempts == 2
    assert read_object(dest.bucket, dest.key(files[4].relative_path)) == files[4].body


@pytest.mark.django_db
def test_reconcile_leaves_busy_files_and_jobs_alone(pushed) -> None:
    job, _, files = pushed
    simulate_lost_worker(job, [files[0].relative_path], minutes_ago=0)
    assert services.push_reconcile() == {}
    assert (
        PushFile.objects.get(job=job, relative_path=files[0].relative_path).status == "IN_PROGRESS"
    )


@pytest.mark.django_db
def test_reconcile_fails_a_push_that_resuming_does_not_help(
    pushed, settings, finished_pushes, django_capture_on_commit_callbacks
) -> None:
    job, dest, files = pushed
    simulate_lost_worker(job, [files[2].relative_path])
    PushJob.objects.filter(id=job.id).update(resume_count=settings.PUSH_MAX_RESUMES)
    PushFile.objects.filter(job=job, relative_path=files[2].relative_path).update(status="PENDING")

    with django_capture_on_commit_callbacks(execute=True):
        result = services.push_reconcile()

    assert result == {"jobs_failed": 1}
    job.refresh_from_db()
    assert job.status == PushStatus.FAILED
    assert job.error_message.startswith("No progress since ")
    assert (
        f"despite {settings.PUSH_MAX_RESUMES} automatic resumes; 1 of 6 files unfinished"
        in job.error_message
    )
    row = PushFile.objects.get(job=job, relative_path=files[2].relative_path)
    assert row.status == PushFileStatus.ABORTED
    assert finished_pushes == [{"push_job_id": job.id, "status": "FAILED"}]
    end = json.loads(read_object(dest.bucket, dest.key("datasharing-push.completed.json")))
    assert end["status"] == "FAILED"


@pytest.mark.django_db
def test_a_file_whose_worker_is_lost_too_often_fails(
    pushed, settings, django_capture_on_commit_callbacks
) -> None:
    job, _, files = pushed
    simulate_lost_worker(job, [files[3].relative_path])
    PushFile.objects.filter(job=job, relative_path=files[3].relative_path).update(
        attempts=settings.PUSH_FILE_MAX_ATTEMPTS
    )
    with django_capture_on_commit_callbacks(execute=True):
        services.push_reconcile()
    job.refresh_from_db()
    row = PushFile.objects.get(job=job, relative_path=files[3].relative_path)
    assert row.status == PushFileStatus.FAILED
    assert "worker was lost" in row.error
    assert job.status == PushStatus.FAILED
    assert "1 of 6 files failed" in job.error_message


@pytest.mark.django_db
def test_reconcile_settles_lost_files_of_a_push_that_already_ended(pushed) -> None:
    job, _, files = pushed
    PushFile.objects.filter(job=job, relative_path=files[0].relative_path).update(
        status=PushFileStatus.IN_PROGRESS,
        verification_method="",
        completed_at=None,
        heartbeat_at=timezone.now() - dt.timedelta(hours=1),
    )
    assert services.push_reconcile() == {"files_aborted": 1}
    assert PushFile.objects.get(job=job, relative_path=files[0].relative_path).status == "ABORTED"


@pytest.mark.django_db
def test_reconcile_restarts_a_job_whose_start_message_was_lost(
    source_files,
    package_factory,
    dest_factory,
    allow_destination,
    curator,
    django_capture_on_commit_callbacks,
) -> None:
    job = services.push_create(  # on_commit never runs here: the start message is "lost"
        package=package_factory(source_files(("a.txt", 5))),
        destination=parse_destination(allow_destination(dest_factory().uri)),
        user=curator,
    )
    PushJob.objects.filter(id=job.id).update(
        last_progress_time=timezone.now() - dt.timedelta(hours=1)
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert services.push_reconcile() == {"jobs_resumed": 1}
    job.refresh_from_db()
    assert job.status == PushStatus.SUCCEEDED


def test_reconcile_is_the_one_reaper_registered_with_beat() -> None:
    from datasharing import jobs
    from datasharing.beat import registered_periodic_tasks

    reapers = [spec for spec in registered_periodic_tasks() if spec.task == "datasharing.jobs_reap"]
    assert len(reapers) == 1
    assert "push" in {kind.name for kind in jobs.job_kinds()}


@pytest.mark.django_db
def test_files_of_a_lost_worker_go_to_a_new_copier_at_once_while_the_job_is_alive(
    pushed, django_capture_on_commit_callbacks
) -> None:
    job, dest, files = pushed
    lost = [files[2].relative_path, files[5].relative_path]
    simulate_lost_worker(job, lost)
    # Another copier of the job is alive and heartbeating: the job itself is not stuck.
    PushJob.objects.filter(id=job.id).update(last_progress_time=timezone.now())
    s3.delete_object(dest.bucket, dest.key(files[5].relative_path))

    with django_capture_on_commit_callbacks(execute=True):
        result = services.push_reconcile()

    assert result == {"files_requeued": 2}
    job.refresh_from_db()
    assert job.status == PushStatus.SUCCEEDED, job.error_message
    assert job.resume_count == 0
    assert read_object(dest.bucket, dest.key(files[5].relative_path)) == files[5].body


@pytest.mark.django_db
def test_each_resume_waits_twice_as_long_as_the_one_before(pushed, settings) -> None:
    job, _, _ = pushed
    simulate_lost_worker(job, [])
    PushJob.objects.filter(id=job.id).update(resume_count=2)
    job.refresh_from_db()
    silent_since = job.last_progress_time
    stale = settings.PUSH_STALE_AFTER_SECONDS

    # Two resumes so far: the third waits for 4 x PUSH_STALE_AFTER_SECONDS of silence.
    at = silent_since + dt.timedelta(seconds=4 * stale - 1)
    assert services.push_reconcile(now=at) == {}
    at = silent_since + dt.timedelta(seconds=4 * stale + 1)
    assert services.push_reconcile(now=at) == {"jobs_resumed": 1}
    job.refresh_from_db()
    assert job.resume_count == 3


@pytest.mark.django_db
def test_planning_and_finalizing_get_longer_before_they_count_as_lost(pushed, settings) -> None:
    job, _, _ = pushed
    simulate_lost_worker(job, [])
    PushJob.objects.filter(id=job.id).update(step=PushStep.FINALIZING)
    job.refresh_from_db()
    stale = settings.PUSH_STALE_AFTER_SECONDS

    # Receipts are written in one thread that shows progress between remote calls only.
    assert (
        services.push_reconcile(now=job.last_progress_time + dt.timedelta(seconds=3 * stale)) == {}
    )
    later = job.last_progress_time + dt.timedelta(seconds=10 * stale + 1)
    assert services.push_reconcile(now=later) == {"jobs_resumed": 1}
