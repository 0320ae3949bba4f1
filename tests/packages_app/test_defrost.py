"""Archived FASTQs (DEEP_ARCHIVE) against moto's S3, which implements storage classes and
RestoreObject: UNARCHIVING, polling without a waiting worker, success, time limit, abort."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from email.utils import parsedate_to_datetime
from typing import Any

import pytest
from django.utils import timezone

from datasharing import s3
from packages_app import services
from packages_app.models import Package, PackageFile, PackageStatus
from tests.packages_app.facility import Facility, build_facility

pytestmark = pytest.mark.django_db


@pytest.fixture
def archived_facility(moto_bucket: Callable[[str], str]) -> Facility:
    """One tumor/normal pair whose FASTQs are in DEEP_ARCHIVE (in moto)."""
    return build_facility(
        bucket=moto_bucket("archive"), pairs=1, fastq_storage_class="DEEP_ARCHIVE", workers=2
    )


def poll(capture: Any) -> None:
    """One beat tick of the restore poller (tasks run inline)."""
    with capture(execute=True):
        services.packages_restores_poll()


def frozen_states(package: Package) -> set[tuple[str, str]]:
    return set(
        PackageFile.objects.filter(package=package).values_list("storage_class", "restore_state")
    )


def test_without_defrost_archived_fastqs_succeed_flagged_and_are_not_restored(
    archived_facility: Facility, build_now: Callable[..., Package]
) -> None:
    tumor = archived_facility.pairs[0].tumor
    package = build_now(libraryIdList=[tumor])
    assert package.status == PackageStatus.SUCCEEDED, package.error_message
    assert package.archived_file_count == package.file_count == 2
    assert frozen_states(package) == {("DEEP_ARCHIVE", "")}
    source = PackageFile.objects.filter(package=package).first()
    assert s3.head_object(source.source_bucket, source.source_key).restore_state is None


def test_defrost_requests_restores_polls_and_continues_when_restored(
    archived_facility: Facility,
    build_now: Callable[..., Package],
    django_capture_on_commit_callbacks: Any,
    moto_restores_one_step_per_read: None,
    settings: Any,
) -> None:
    settings.PACKAGE_RESTORE_DAYS = 3
    tumor = archived_facility.pairs[0].tumor
    package = build_now(libraryIdList=[tumor], defrostArchivedFastqs=True)
    assert package.status == PackageStatus.UNARCHIVING, package.error_message
    assert package.step == "waiting-for-restores"
    assert package.restore_requested_at is not None
    assert frozen_states(package) == {("DEEP_ARCHIVE", "ongoing")}
    assert not package.manifest_key

    poll(django_capture_on_commit_callbacks)  # moto: restore in progress
    package.refresh_from_db()
    assert package.status == PackageStatus.UNARCHIVING
    assert frozen_states(package) == {("DEEP_ARCHIVE", "ongoing")}

    poll(django_capture_on_commit_callbacks)  # moto: restored
    package.refresh_from_db()
    assert package.status == PackageStatus.SUCCEEDED, package.error_message
    assert frozen_states(package) == {("DEEP_ARCHIVE", "restored")}
    assert package.manifest_key
    # The restore asked for PACKAGE_RESTORE_DAYS days.
    source = PackageFile.objects.filter(package=package).first()
    head = s3.client().head_object(Bucket=source.source_bucket, Key=source.source_key)
    expiry = parsedate_to_datetime(head["Restore"].split('expiry-date="')[1].rstrip('"'))
    assert dt.timedelta(days=2) < expiry - timezone.now() <= dt.timedelta(days=3, minutes=1)


def test_restores_not_done_in_time_fail_with_the_files(
    archived_facility: Facility,
    build_now: Callable[..., Package],
    django_capture_on_commit_callbacks: Any,
    moto_restores_one_step_per_read: None,
    settings: Any,
) -> None:
    settings.PACKAGE_RESTORE_MAX_WAIT_HOURS = 0
    pair = archived_facility.pairs[0]
    package = build_now(libraryIdList=[pair.tumor], defrostArchivedFastqs=True)
    assert package.status == PackageStatus.UNARCHIVING
    poll(django_capture_on_commit_callbacks)
    package.refresh_from_db()
    assert package.status == PackageStatus.FAILED
    assert package.error_message.startswith("2 archived file(s) were not restored within 0 hours")
    for read in (1, 2):
        assert archived_facility.fastq_name(pair.tumor, 1, read) in package.error_message


def test_abort_while_unarchiving_stops_polling(
    archived_facility: Facility,
    build_now: Callable[..., Package],
    django_capture_on_commit_callbacks: Any,
    moto_restores_one_step_per_read: None,
) -> None:
    package = build_now(
        libraryIdList=[archived_facility.pairs[0].tumor], defrostArchivedFastqs=True
    )
    assert package.status == PackageStatus.UNARCHIVING
    services.package_abort(package=package, user=None)
    poll(django_capture_on_commit_callbacks)
    poll(django_capture_on_commit_callbacks)
    package.refresh_from_db()
    assert package.status == PackageStatus.ABORTED
    assert frozen_states(package) == {("DEEP_ARCHIVE", "ongoing")}  # not polled any more
    assert not package.manifest_key


def test_files_already_restored_need_no_unarchiving(
    archived_facility: Facility, build_now: Callable[..., Package]
) -> None:
    tumor = archived_facility.pairs[0].tumor
    for read in (1, 2):
        key = f"primary/{archived_facility.run_id}/Samples/Lane_1/{tumor}/" + (
            archived_facility.fastq_name(tumor, 1, read)
        )
        # moto's default: a restore completes at once.
        s3.restore_object(archived_facility.bucket, key, days=1, tier="Bulk")
    package = build_now(libraryIdList=[tumor], defrostArchivedFastqs=True)
    assert package.status == PackageStatus.SUCCEEDED, package.error_message
    assert frozen_states(package) == {("DEEP_ARCHIVE", "restored")}


def test_unarchiving_packages_are_not_failed_as_stuck_between_polls(
    archived_facility: Facility,
    build_now: Callable[..., Package],
    moto_restores_one_step_per_read: None,
    settings: Any,
) -> None:
    package = build_now(
        libraryIdList=[archived_facility.pairs[0].tumor], defrostArchivedFastqs=True
    )
    between_polls = timezone.now() - dt.timedelta(seconds=settings.PACKAGE_STUCK_AFTER_SECONDS + 1)
    Package.objects.filter(id=package.id).update(last_progress_time=between_polls)
    assert services.packages_fail_stuck() == {"failed": 0, "requeued": 0}
    long_silence = timezone.now() - dt.timedelta(
        seconds=3 * settings.PACKAGE_RESTORE_POLL_SECONDS + 1
    )
    Package.objects.filter(id=package.id).update(last_progress_time=long_silence)
    assert services.packages_fail_stuck() == {"failed": 1, "requeued": 0}
