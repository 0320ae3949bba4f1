"""Matching runs to rules, one share per rule and run, and the share's state machine driven by
the package and push hooks (and by the reconciliation when a hook was lost)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from automation_app import shares
from automation_app.models import AutoShare, AutoShareRule, AutoShareStatus, Trigger
from catalog_app.models import SequencingRun
from datasharing import s3
from packages_app.lifecycle import package_fail
from packages_app.models import Package, PackageStatus
from packages_app.package_request import package_name_validate
from sharing_app.push.models import PushJob, PushStatus
from tests.automation_app.conftest import RUN_2


def evaluate(run_id: str = RUN_2, trigger: str = Trigger.EVENT) -> shares.RunEvaluation:
    return shares.auto_share_evaluate_run(
        run=SequencingRun.objects.get(instrument_run_id=run_id), trigger=trigger
    )


def test_a_run_gives_one_share_and_one_package_per_matching_rule(
    demo_catalog: Path, make_rule: Callable[..., AutoShareRule]
) -> None:
    rule = make_rule(jobName="CUP_fastq", projectIdList=["CUP", "NotYetKnown"])
    make_rule(jobName="disabled", enabled=False)
    make_rule(jobName="other-project", projectIdList=["NoSuchProject"])

    first = evaluate()
    second = evaluate()

    share = AutoShare.objects.get()
    assert share.rule == rule
    assert share.status == AutoShareStatus.PACKAGING
    assert share.share_destination == rule.share_destination
    outcomes = {r["jobName"]: r["outcome"] for r in first.as_dict()["rules"]}
    assert outcomes["CUP_fastq"] == f"created {share.id}"
    assert outcomes["other-project"].startswith("skipped: no FASTQs")
    assert "disabled" not in outcomes
    assert {r["jobName"]: r["outcome"] for r in second.as_dict()["rules"]}["CUP_fastq"] == (
        f"exists {share.id}"
    )
    package = Package.objects.get()
    assert share.package == package
    assert package_name_validate(package.package_name) == f"CUP_fastq.{RUN_2}"
    # Only projects the catalog knows, only this run.
    assert package.request["project_id_list"] == ["CUP"]
    assert package.request["instrument_run_id_list"] == [RUN_2]
    assert package.request["data_type_list"] == ["fastq"]
    assert package.requested_by is None


def test_a_refused_package_fails_the_share_once(
    demo_catalog: Path, make_rule: Callable[..., AutoShareRule], settings: Any
) -> None:
    make_rule(jobName="cup")
    settings.PACKAGE_REQUEST_MAX_IDS = 0  # every request is refused by the packages app
    evaluate()
    evaluate()
    share = AutoShare.objects.get()
    assert share.status == AutoShareStatus.FAILED
    assert "The package could not be created" in share.error
    assert "projectIdList" in share.error
    assert not Package.objects.exists()


def test_package_success_awaits_approval_once_even_if_the_hook_comes_twice(
    demo_catalog: Path,
    make_rule: Callable[..., AutoShareRule],
    django_capture_on_commit_callbacks: Any,
) -> None:
    make_rule(jobName="cup-approve", requireApproval=True)
    with django_capture_on_commit_callbacks(execute=True):
        evaluate()  # the package is built inline (eager Celery) and its hook fires
    share = AutoShare.objects.select_related("package").get()
    assert share.package is not None
    assert share.package.status == PackageStatus.SUCCEEDED
    assert share.status == AutoShareStatus.AWAITING_APPROVAL
    updated = share.updated_at

    shares.on_package_finished(package_id=share.package.id, status=PackageStatus.SUCCEEDED)
    share.refresh_from_db()
    assert share.status == AutoShareStatus.AWAITING_APPROVAL
    assert share.updated_at == updated
    assert share.push_job is None


def test_without_approval_the_package_is_pushed_and_the_share_succeeds(
    demo_catalog: Path,
    make_rule: Callable[..., AutoShareRule],
    bucket_factory: Callable[[str], str],
    django_capture_on_commit_callbacks: Any,
) -> None:
    bucket = bucket_factory("auto-dest")
    make_rule(jobName="cup-push", shareDestination=f"s3://{bucket}/cup/")
    with django_capture_on_commit_callbacks(execute=True):
        evaluate()
    share = AutoShare.objects.select_related("push_job", "package").get()
    assert share.status == AutoShareStatus.SUCCEEDED, share.error
    assert share.push_job is not None
    assert share.push_job.status == PushStatus.SUCCEEDED
    keys = {obj.key for obj in s3.list_objects(bucket, "cup/")}
    assert share.package is not None
    assert len([k for k in keys if k.startswith("cup/fastq/")]) == share.package.file_count > 0

    shares.on_push_finished(push_job_id=share.push_job.id, status=PushStatus.SUCCEEDED)
    assert PushJob.objects.count() == 1


def test_a_failed_package_fails_the_share(
    demo_catalog: Path,
    make_rule: Callable[..., AutoShareRule],
    django_capture_on_commit_callbacks: Any,
) -> None:
    make_rule(jobName="cup")
    evaluate()  # outside a commit capture: the package stays PENDING
    share = AutoShare.objects.get()
    assert share.package_id is not None
    with django_capture_on_commit_callbacks(execute=True):
        package_fail(package_id=share.package_id, error_message="The source bucket is gone.")
    share.refresh_from_db()
    assert share.status == AutoShareStatus.FAILED
    assert "FAILED: The source bucket is gone." in share.error


def test_reconciliation_evaluates_unannounced_recent_runs_exactly_once(
    demo_catalog: Path, make_rule: Callable[..., AutoShareRule], settings: Any
) -> None:
    settings.AUTO_SHARE_LOOKBACK_HOURS = 24
    rule = make_rule(jobName="cup", projectIdList=["PanCan"])
    SequencingRun.objects.exclude(instrument_run_id=RUN_2).update(
        created_at=timezone.now() - dt.timedelta(days=3)
    )

    first = shares.auto_shares_reconcile()
    second = shares.auto_shares_reconcile()

    share = AutoShare.objects.get()
    assert (share.rule, share.run.instrument_run_id, share.trigger) == (
        rule,
        RUN_2,
        Trigger.RECONCILIATION,
    )
    assert first["sharesCreated"] == 1
    assert second == {
        "runsEvaluated": 0,
        "sharesCreated": 0,
        "sharesAdvanced": 0,
        "notificationsResent": 0,
    }


def test_reconciliation_recovers_missed_package_and_push_hooks(
    demo_catalog: Path, make_rule: Callable[..., AutoShareRule]
) -> None:
    make_rule(jobName="cup")
    evaluate()
    share = AutoShare.objects.get()
    # The package finished in a process that died before its hook ran.
    Package.objects.filter(id=share.package_id).update(
        status=PackageStatus.SUCCEEDED,
        completion_time=timezone.now(),
        expires_at=timezone.now() + dt.timedelta(days=30),
    )
    assert shares.auto_shares_reconcile()["sharesAdvanced"] == 1
    share.refresh_from_db()
    assert share.status == AutoShareStatus.PUSHING
    assert share.push_job_id is not None

    # The push finished, and its hook was lost too.
    PushJob.objects.filter(id=share.push_job_id).update(
        status=PushStatus.SUCCEEDED, completion_time=timezone.now()
    )
    assert shares.auto_shares_reconcile()["sharesAdvanced"] == 1
    share.refresh_from_db()
    assert share.status == AutoShareStatus.SUCCEEDED
    assert shares.auto_shares_reconcile()["sharesAdvanced"] == 0
    assert PushJob.objects.count() == 1


@pytest.mark.parametrize("push_status", [PushStatus.FAILED, PushStatus.ABORTED])
def test_a_push_that_does_not_succeed_fails_the_share(
    demo_catalog: Path, make_rule: Callable[..., AutoShareRule], push_status: str
) -> None:
    make_rule(jobName="cup")
    evaluate()
    share = AutoShare.objects.get()
    Package.objects.filter(id=share.package_id).update(
        status=PackageStatus.SUCCEEDED, expires_at=timezone.now() + dt.timedelta(days=1)
    )
    shares.auto_share_advance(share_id=share.id)
    share.refresh_from_db()
    PushJob.objects.filter(id=share.push_job_id).update(
        status=push_status, completion_time=timezone.now(), error_message="Destination refused."
    )
    shares.on_push_finished(push_job_id=str(share.push_job_id), status=push_status)
    share.refresh_from_db()
    assert share.status == AutoShareStatus.FAILED
    assert f"{push_status}: Destination refused." in share.error
