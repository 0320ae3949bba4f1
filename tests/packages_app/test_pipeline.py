"""The packaging pipeline run inline (eager Celery): states, freezing, failures, abort, stuck jobs."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.utils import timezone

from catalog_app.models import StoredObject, WorkflowRun
from datasharing import hooks, s3
from datasharing.errors import DomainError, domain_error_status
from packages_app import defrost, services
from packages_app.models import (
    DataType,
    Package,
    PackageAnalysis,
    PackageFile,
    PackageLibrary,
    PackageStatus,
)
from packages_app.selectors import package_archived_files, package_require_shareable
from tests.packages_app.conftest import RUN_2, SUBJECT_1_NORMAL, SUBJECT_1_TUMOR

pytestmark = pytest.mark.django_db


@pytest.fixture
def finished(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """Calls of the PACKAGE_FINISHED hook."""
    calls: list[tuple[str, str]] = []

    def record(*, package_id: str, status: str) -> None:
        calls.append((package_id, status))

    monkeypatch.setitem(hooks._callbacks, hooks.PACKAGE_FINISHED, [record])
    return calls


def test_package_is_built_frozen_and_succeeds(
    demo_catalog: Path, build_now: Callable[..., Package], curator: Any, finished: list[Any]
) -> None:
    package = build_now(
        name="subject-1",
        user=curator,
        libraryIdList=[SUBJECT_1_TUMOR, SUBJECT_1_NORMAL],
        dataTypeList=["fastq", "secondaryAnalysis"],
        secondaryAnalysisTypeList=["tumor-normal"],
    )
    assert package.status == PackageStatus.SUCCEEDED, package.error_message
    assert package.error_message == ""
    assert package.step == "done" and package.attempts == 1
    assert package.requested_by == curator
    assert package.start_time and package.completion_time
    assert package.expires_at == package.completion_time + dt.timedelta(days=30)
    assert not package.has_expired
    files = list(PackageFile.objects.filter(package=package))
    assert package.file_count == len(files) == 8 + 15
    assert package.total_bytes == sum(f.size for f in files)
    assert (package.library_count, package.fastq_count, package.workflow_run_count) == (2, 4, 1)
    assert package.archived_file_count == 0
    assert {f.data_type for f in files} == {DataType.FASTQ, DataType.SECONDARY_ANALYSIS}
    fastq = next(f for f in files if f.data_type == DataType.FASTQ)
    assert fastq.fastq_id and fastq.catalog_library_id and fastq.stored_object_id
    assert fastq.instrument_run_id == RUN_2 and fastq.etag
    # Every file is a frozen copy of what the catalog knew of its object at packaging time.
    objects = {
        o.pk: o for o in StoredObject.objects.filter(pk__in=[f.stored_object_id for f in files])
    }
    for f in files:
        obj = objects[f.stored_object_id]
        assert (f.source_bucket, f.source_key, f.size, f.etag, f.md5, f.sha256) == (
            obj.bucket,
            obj.key,
            obj.size,
            obj.etag,
            obj.md5,
            obj.sha256,
        )
        assert f.storage_class == (obj.storage_class or "STANDARD")
    secondary = [f for f in files if f.data_type == DataType.SECONDARY_ANALYSIS]
    tn_run = WorkflowRun.objects.get(portal_run_id=secondary[0].portal_run_id)
    assert {(f.workflow_run_id, f.workflow_name) for f in secondary} == {
        (tn_run.pk, "tumor-normal")
    }
    analysis = PackageAnalysis.objects.get(package=package)
    assert analysis.workflow_name == "tumor-normal" and analysis.status == "SUCCEEDED"
    library = PackageLibrary.objects.get(package=package, library_id=SUBJECT_1_TUMOR)
    assert library.metadata["subject_id"] == "SBJ00102"
    # Artifacts are in the artifact bucket.
    manifest = s3.get_object_bytes(settings.ARTIFACT_BUCKET, package.manifest_key).decode()
    assert manifest.count("\n") == 1 + len(files)
    assert finished == [(package.id, "SUCCEEDED")]
    package_require_shareable(package=package)


def test_archived_files_without_defrost_succeed_and_are_flagged(
    demo_catalog: Path, build_now: Callable[..., Package]
) -> None:
    package = build_now(
        libraryIdList=["L2400101"], instrumentRunIdList=["241024_A00130_0336_BHW7MVDSXC"]
    )
    assert package.status == PackageStatus.SUCCEEDED, package.error_message
    assert package.archived_file_count == 4 == package.file_count
    assert len(package_archived_files(package=package)) == 4
    assert set(
        PackageFile.objects.filter(package=package).values_list("restore_state", flat=True)
    ) == {""}


def test_storage_refusals_fail_at_once_with_the_reason(
    demo_catalog: Path, build_now: Callable[..., Package]
) -> None:
    # SeaweedFS keeps storage classes but does not implement RestoreObject (405).
    package = build_now(
        libraryIdList=["L2400101"],
        instrumentRunIdList=["241024_A00130_0336_BHW7MVDSXC"],
        defrostArchivedFastqs=True,
    )
    assert package.status == PackageStatus.FAILED
    assert package.attempts == 1
    assert package.error_message.startswith("S3 refused to restore s3://")
    assert "MethodNotAllowed" in package.error_message


def test_request_with_unknown_ids_creates_nothing(demo_catalog: Path) -> None:
    with pytest.raises(DomainError) as excinfo:
        services.package_create(
            package_name="nope",
            package_request={"libraryIdList": ["L0000000"], "dataTypeList": ["fastq"]},
            user=None,
        )
    assert domain_error_status(excinfo.value) == 400
    assert Package.objects.count() == 0


def test_duplicate_paths_fail_the_package_with_the_paths(
    demo_catalog: Path,
    build_now: Callable[..., Package],
    source_bucket_factory: Any,
    finished: list[Any],
) -> None:
    from catalog_app.importers.fastq_list import (
        catalog_import_fastq_list,
        fastq_list_records_from_csv,
    )
    from tests.packages_app.conftest import demo_fastq_name

    bucket = source_bucket_factory("dup")
    name = demo_fastq_name(SUBJECT_1_NORMAL, 1, 1)
    s3.put_object(bucket, f"again/{name}", b"x")
    catalog_import_fastq_list(
        records=fastq_list_records_from_csv(
            f"RGID,RGSM,RGLB,Lane,Read1File,Read2File\nX.1,{SUBJECT_1_NORMAL},x,1,{name},\n",
            base_uri=f"s3://{bucket}/again/",
        ),
        instrument_run_id=RUN_2,
        base_uri=f"s3://{bucket}/again/",
        authoritative=False,  # rows added to the run, as a FastqListRowsAdded event adds them
    )
    package = build_now(libraryIdList=[SUBJECT_1_NORMAL])
    assert package.status == PackageStatus.FAILED
    assert "1 destination path(s) would receive more than one file" in package.error_message
    assert f"fastq/{RUN_2}/Lane_1/{SUBJECT_1_NORMAL}/{name}" in package.error_message
    assert PackageFile.objects.filter(package=package).count() == 0
    assert finished == [(package.id, "FAILED")]


def test_transient_s3_failures_are_retried_then_fail_cleanly(
    demo_catalog: Path,
    django_capture_on_commit_callbacks: Any,
    settings: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    countdowns: list[float | None] = []
    real_enqueue = services.package_build_enqueue

    def enqueue(*, package_id: str, countdown: float | None = None) -> None:
        countdowns.append(countdown)
        real_enqueue(package_id=package_id, countdown=countdown)

    monkeypatch.setattr(services, "package_build_enqueue", enqueue)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        package = services.package_create(
            package_name="unreachable",
            package_request={
                "libraryIdList": [SUBJECT_1_TUMOR],
                "dataTypeList": ["secondaryAnalysis"],
            },
            user=None,
        )
    # S3 stops answering (nothing listens on the discard port); one client attempt each time.
    settings.AWS_ENDPOINT_URL_S3 = "http://127.0.0.1:9"
    settings.S3_MAX_ATTEMPTS = 1
    settings.S3_CONNECT_TIMEOUT = 0.5
    for callback in callbacks:
        callback()
    package.refresh_from_db()
    assert package.status == PackageStatus.FAILED
    assert package.attempts == settings.PACKAGE_MAX_ATTEMPTS == 3
    assert package.error_message.startswith("Failed after 3 attempt(s); last error:")
    assert "EndpointConnectionError" in package.error_message or "Connect" in package.error_message
    # The first enqueue is the create's; then two retries with exponential backoff.
    assert countdowns == [None, 60, 120]


def test_abort_before_the_worker_starts_means_nothing_is_done(
    demo_catalog: Path, django_capture_on_commit_callbacks: Any, curator: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        package = services.package_create(
            package_name="aborted",
            package_request={"libraryIdList": [SUBJECT_1_NORMAL], "dataTypeList": ["fastq"]},
            user=curator,
        )
    services.package_abort(package=package, user=curator)
    for callback in callbacks:
        callback()
    package.refresh_from_db()
    assert package.status == PackageStatus.ABORTED
    assert package.error_message == "Aborted by cora-curator."
    assert package.completion_time is not None
    assert PackageFile.objects.filter(package=package).count() == 0


def test_abort_while_running_stops_before_freezing(
    demo_catalog: Path, build_now: Callable[..., Package], monkeypatch: pytest.MonkeyPatch
) -> None:
    real = defrost.restore_state_refresh

    def abort_meanwhile(files: Any) -> None:
        # Someone aborts while the worker reads archive state (between resolve and freeze).
        package = Package.objects.get(status=PackageStatus.RUNNING)
        services.package_abort(package=package, user=None)
        real(files)

    monkeypatch.setattr(defrost, "restore_state_refresh", abort_meanwhile)
    package = build_now(libraryIdList=[SUBJECT_1_NORMAL])
    assert package.status == PackageStatus.ABORTED
    assert package.error_message == "Aborted by the system."
    assert PackageFile.objects.filter(package=package).count() == 0
    assert not package.manifest_key


def test_abort_during_artifacts_keeps_aborted(
    demo_catalog: Path, build_now: Callable[..., Package], monkeypatch: pytest.MonkeyPatch
) -> None:
    from packages_app.report import artifacts

    def abort_then_write(*, package: Package) -> None:
        services.package_abort(package=package, user=None)
        artifacts.package_artifacts_write(package=package)

    monkeypatch.setattr(services, "package_artifacts_write", abort_then_write)
    package = build_now(libraryIdList=[SUBJECT_1_NORMAL])
    assert package.status == PackageStatus.ABORTED


def test_terminal_packages_cannot_be_aborted(
    demo_catalog: Path, build_now: Callable[..., Package]
) -> None:
    package = build_now(libraryIdList=[SUBJECT_1_NORMAL])
    with pytest.raises(DomainError) as excinfo:
        services.package_abort(package=package, user=None)
    assert domain_error_status(excinfo.value) == 409


def test_a_claimed_package_is_not_built_twice(
    demo_catalog: Path, build_now: Callable[..., Package]
) -> None:
    package = build_now(libraryIdList=[SUBJECT_1_NORMAL])
    before = (package.attempts, package.completion_time)
    services.package_build(package_id=package.id)  # a duplicate task delivery
    package.refresh_from_db()
    assert (package.attempts, package.completion_time) == before


def test_unexpected_errors_fail_with_a_message(
    demo_catalog: Path, build_now: Callable[..., Package], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*, package: Package) -> None:
        raise KeyError("report template")

    monkeypatch.setattr(services, "package_artifacts_write", broken)
    package = build_now(libraryIdList=[SUBJECT_1_NORMAL])
    assert package.status == PackageStatus.FAILED
    assert package.error_message == "Unexpected error: KeyError: 'report template'"


def test_stuck_running_packages_are_failed_and_pending_ones_requeued(
    demo_catalog: Path, django_capture_on_commit_callbacks: Any, finished: list[Any]
) -> None:
    long_ago = timezone.now() - dt.timedelta(seconds=settings.PACKAGE_STUCK_AFTER_SECONDS + 60)
    lost = Package.objects.create(
        package_name="lost",
        request={"library_id_list": [SUBJECT_1_NORMAL], "data_type_list": ["fastq"]},
        status=PackageStatus.RUNNING,
        step="resolving",
        last_progress_time=long_ago,
    )
    busy = Package.objects.create(
        package_name="busy", request={}, status=PackageStatus.RUNNING, step="freezing"
    )
    with django_capture_on_commit_callbacks(execute=False):
        queued = services.package_create(
            package_name="queued",
            package_request={"libraryIdList": [SUBJECT_1_NORMAL], "dataTypeList": ["fastq"]},
            user=None,
        )
    Package.objects.filter(id=queued.id).update(last_progress_time=long_ago)
    with django_capture_on_commit_callbacks(execute=True):
        counts = services.packages_fail_stuck()
    assert counts == {"failed": 1, "requeued": 1}
    lost.refresh_from_db()
    assert lost.status == PackageStatus.FAILED
    assert "No progress since" in lost.error_message and "(resolving)" in lost.error_message
    busy.refresh_from_db()
    assert busy.status == PackageStatus.RUNNING
    queued.refresh_from_db()
    assert queued.status == PackageStatus.SUCCEEDED
    assert (lost.id, "FAILED") in finished


def test_expired_packages_refuse_sharing(
    demo_catalog: Path, build_now: Callable[..., Package]
) -> None:
    package = build_now(libraryIdList=[SUBJECT_1_NORMAL])
    Package.objects.filter(id=package.id).update(
        expires_at=timezone.now() - dt.timedelta(seconds=1)
    )
    package.refresh_from_db()
    assert package.has_expired
    with pytest.raises(DomainError) as excinfo:
        package_require_shareable(package=package)
    assert domain_error_status(excinfo.value) == 409


@pytest.mark.parametrize("status", ["PENDING", "RUNNING", "UNARCHIVING", "FAILED", "ABORTED"])
def test_only_succeeded_packages_can_be_shared(status: str) -> None:
    package = Package.objects.create(package_name="p1", request={}, status=status)
    with pytest.raises(DomainError) as excinfo:
        package_require_shareable(package=package)
    assert domain_error_status(excinfo.value) == 409
    assert f"is {status}" in excinfo.value.message


def test_expiry_period_is_configurable(
    demo_catalog: Path, build_now: Callable[..., Package], settings: Any
) -> None:
    settings.PACKAGE_EXPIRY_DAYS = 2
    package = build_now(libraryIdList=[SUBJECT_1_NORMAL])
    assert package.expires_at == package.completion_time + dt.timedelta(days=2)


def test_periodic_tasks_are_registered_for_beat() -> None:
    from django_celery_beat.models import PeriodicTask

    from datasharing.beat import PREFIX, sync_periodic_tasks

    sync_periodic_tasks()
    tasks = {t.name: t for t in PeriodicTask.objects.filter(name__startswith=PREFIX)}
    # Stuck packages are found by the one reaper of every kind of job.
    stuck = tasks[PREFIX + "jobs: recover stuck jobs"]
    assert stuck.task == "datasharing.jobs_reap"
    assert stuck.interval.every == settings.JOBS_REAP_INTERVAL_SECONDS
    # The old per-app entry (from an earlier deployment) no longer runs.
    assert not any(
        task.enabled for name, task in tasks.items() if name.startswith(PREFIX + "packages: fail")
    )
    poll = tasks[PREFIX + "packages: poll archive restores"]
    assert poll.task == "packages_app.packages_restores_poll"
