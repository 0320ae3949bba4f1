"""The shared job lifecycle: backoff, enqueueing by task name, and the one reaper of every kind of
job (what it does per kind, and what it says when it cannot claim a job)."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import pytest
from django.utils import timezone

from datasharing import jobs
from packages_app.models import Package, PackageStatus
from sharing_app.push.models import DestinationType, PushJob, PushStatus, PushStep


def test_backoff_doubles_from_the_base_up_to_the_cap() -> None:
    delays = [jobs.backoff_seconds(attempt, base=60, cap=300) for attempt in range(1, 6)]
    assert delays == [60, 120, 240, 300, 300]


def test_backoff_with_jitter_stays_in_the_upper_half() -> None:
    for _ in range(50):
        assert 20 <= jobs.backoff_seconds(2, base=20, cap=1000, jitter=True) <= 40


def test_a_naive_datetime_is_refused_for_raw_sql() -> None:
    with pytest.raises(ValueError, match="naive datetime"):
        jobs.db_datetime(dt.datetime(2024, 1, 1, 12, 0))  # noqa: DTZ001 - what is refused


def test_enqueueing_an_unknown_task_name_fails_loudly() -> None:
    with pytest.raises(KeyError):
        jobs.enqueue("packages_app.no_such_task", "pkg.1")


def test_every_app_registers_its_kind_of_job() -> None:
    assert {kind.name for kind in jobs.job_kinds()} == {"package", "push"}


def _stuck_package(**fields: Any) -> Package:
    from django.conf import settings

    return Package.objects.create(
        package_name="stuck",
        request={},
        status=PackageStatus.RUNNING,
        step="resolving",
        last_progress_time=timezone.now()
        - dt.timedelta(seconds=settings.PACKAGE_STUCK_AFTER_SECONDS + 60),
        **fields,
    )


@pytest.mark.django_db
def test_one_reaper_recovers_stuck_jobs_of_every_kind(
    django_capture_on_commit_callbacks: Any,
) -> None:
    package = _stuck_package()
    push = PushJob.objects.create(
        package_name="queued",
        share_destination="s3://nowhere/x/",
        destination_type=DestinationType.S3,
        destination_bucket="nowhere",
        last_progress_time=timezone.now() - dt.timedelta(hours=1),
    )
    with django_capture_on_commit_callbacks(execute=False):
        assert jobs.jobs_reap() == {"package": {"failed": 1}, "push": {"jobs_resumed": 1}}
    package.refresh_from_db()
    push.refresh_from_db()
    assert package.status == PackageStatus.FAILED
    assert (push.status, push.resume_count) == (PushStatus.PENDING, 1)


@pytest.mark.django_db
def test_a_job_that_shows_progress_after_the_reaper_read_it_is_left_alone_and_logged(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    package = _stuck_package()
    read = jobs._stuck_candidates

    def worker_progresses_meanwhile(kind: jobs.JobKind, now: dt.datetime) -> Any:
        rows = read(kind, now)
        Package.objects.filter(id=package.id).update(last_progress_time=timezone.now())
        return rows

    monkeypatch.setattr(jobs, "_stuck_candidates", worker_progresses_meanwhile)
    with caplog.at_level(logging.INFO, logger="datasharing.jobs"):
        assert jobs.reap_kind("package") == {"busy": 1}
    package.refresh_from_db()
    assert package.status == PackageStatus.RUNNING
    assert f"package {package.id} looked stuck but was not taken: it showed progress at" in (
        caplog.text
    )
    assert "its worker is alive" in caplog.text


@pytest.mark.django_db
def test_a_job_that_changes_state_after_the_reaper_read_it_is_logged_with_the_change(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    push = PushJob.objects.create(
        package_name="moving",
        share_destination="s3://nowhere/x/",
        destination_type=DestinationType.S3,
        destination_bucket="nowhere",
        status=PushStatus.RUNNING,
        step=PushStep.COPYING,
        start_time=timezone.now(),
        last_progress_time=timezone.now() - dt.timedelta(hours=1),
    )
    read = jobs._stuck_candidates

    def finalizing_meanwhile(kind: jobs.JobKind, now: dt.datetime) -> Any:
        rows = read(kind, now)
        PushJob.objects.filter(id=push.id).update(step=PushStep.FINALIZING)
        return rows

    monkeypatch.setattr(jobs, "_stuck_candidates", finalizing_meanwhile)
    with caplog.at_level(logging.INFO, logger="datasharing.jobs"):
        assert jobs.reap_kind("push") == {"jobs_busy": 1}
    assert "its step moved from 'copying' to 'finalizing' meanwhile" in caplog.text
    push.refresh_from_db()
    assert push.resume_count == 0
