"""Automatic shares: which rules a run matches, their packages, and moving a share along as its
package and push finish.

    PACKAGING --package SUCCEEDED--> AWAITING_APPROVAL (requireApproval) --approve--> PUSHING
        |                       \\--> PUSHING (no approval) --push SUCCEEDED--> SUCCEEDED
        |                                                  \\-push FAILED/ABORTED--> FAILED
        \\--package FAILED/ABORTED, or refused--> FAILED         AWAITING_APPROVAL --reject--> REJECTED

One rule and one run give at most one share (database constraint); every transition locks the
share row and checks its state, so hooks delivered twice, a hook racing the reconciliation and
duplicate events change a share once.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from automation_app.models import AutoShare, AutoShareRule, AutoShareStatus, Trigger
from automation_app.notifications import services as notifications
from automation_app.notifications.models import NotificationKind
from automation_app.services import auto_share_start_push
from catalog_app.models import Fastq, SequencingRun
from datasharing.errors import DomainError
from packages_app.models import TERMINAL_PACKAGE_STATUSES, PackageStatus
from packages_app.package_request import PACKAGE_NAME_MAX_LENGTH
from packages_app.services import package_create
from sharing_app.push.models import TERMINAL_PUSH_STATUSES, PushStatus

logger = logging.getLogger(__name__)


@dataclass
class RunEvaluation:
    """What evaluating one run did, per rule (job name): "created <share id>", "failed <share
    id>", "exists <share id>", or "skipped: <reason>"."""

    instrument_run_id: str
    rules: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        # A list, not a mapping keyed by job name: API renderers camel-case mapping keys.
        return {
            "instrumentRunId": self.instrument_run_id,
            "rules": [
                {"jobName": name, "outcome": outcome} for name, outcome in self.rules.items()
            ],
        }


def auto_share_package_name(*, rule: AutoShareRule, run: SequencingRun) -> str:
    """`<jobName>.<instrumentRunId>`: both are made of package-name characters and the job name
    starts with a letter, so the name is valid; cut to the length limit."""
    return f"{rule.job_name}.{run.instrument_run_id}"[:PACKAGE_NAME_MAX_LENGTH]


def auto_share_package_request(
    *, rule: AutoShareRule, run: SequencingRun, project_ids: list[str]
) -> dict[str, Any]:
    """The libraries of `project_ids` (the rule's projects with FASTQs on the run) on this run:
    their FASTQs of this run and/or their latest successful secondary analyses."""
    request: dict[str, Any] = {
        "projectIdList": project_ids,
        "instrumentRunIdList": [run.instrument_run_id],
        "dataTypeList": list(rule.data_types),
    }
    if rule.secondary_analysis_types:
        request["secondaryAnalysisTypeList"] = list(rule.secondary_analysis_types)
    return request


def _rule_projects_on_run(rule: AutoShareRule, run: SequencingRun) -> list[str]:
    """The rule's projects that have FASTQs on the run (a rule may name projects the catalog
    does not know yet; the package request names only known ones)."""
    return sorted(
        set(
            Fastq.objects.filter(
                run=run, library__projects__project_id__in=rule.project_ids
            ).values_list("library__projects__project_id", flat=True)
        )
        & set(rule.project_ids)
    )


def auto_share_evaluate_run(*, run: SequencingRun, trigger: str) -> RunEvaluation:
    """Create a share and its package for every enabled rule whose projects have FASTQs on the
    run, once per rule and run.

    A rule whose projects have no FASTQs on the run (yet) is skipped, not failed: a later event or
    the reconciliation evaluates the run again. A package the packages app refuses (unknown ids,
    nothing to package) makes a FAILED share carrying that message, so it is not retried for ever.
    Packaging starts when the caller's transaction commits.
    """
    evaluation = RunEvaluation(instrument_run_id=run.instrument_run_id)
    for rule in AutoShareRule.objects.filter(enabled=True).order_by("job_name"):
        existing = AutoShare.objects.filter(rule=rule, run=run).values_list("id", flat=True).first()
        if existing:
            evaluation.rules[rule.job_name] = f"exists {existing}"
            continue
        project_ids = _rule_projects_on_run(rule, run)
        if not project_ids:
            evaluation.rules[rule.job_name] = "skipped: no FASTQs of the rule's projects on the run"
            continue
        evaluation.rules[rule.job_name] = _start_share(
            rule=rule, run=run, trigger=trigger, project_ids=project_ids
        )
    return evaluation


def _start_share(
    *, rule: AutoShareRule, run: SequencingRun, trigger: str, project_ids: list[str]
) -> str:
    with transaction.atomic():
        try:
            # A savepoint: a concurrent creator's row makes this insert fail, not the caller's
            # transaction (on Postgres the insert waits for the other transaction to finish).
            with transaction.atomic():
                share = AutoShare.objects.create(
                    rule=rule,
                    run=run,
                    trigger=trigger,
                    status=AutoShareStatus.PACKAGING,
                    share_destination=rule.share_destination,
                )
        except IntegrityError:
            other = AutoShare.objects.filter(rule=rule, run=run).values_list("id", flat=True)
            return f"exists {other.first()}"
        try:
            with transaction.atomic():
                package = package_create(
                    package_name=auto_share_package_name(rule=rule, run=run),
                    package_request=auto_share_package_request(
                        rule=rule, run=run, project_ids=project_ids
                    ),
                    user=None,
                )
        except DomainError as exc:
            # The share row was just inserted by this transaction: nobody else holds it.
            _fail(share, f"The package could not be created: {exc.message}")
            return f"failed {share.id}"
        share.package = package
        share.save()
    logger.info(
        "automatic share %s: rule %s, run %s, package %s (%s)",
        share.id,
        rule.job_name,
        run.instrument_run_id,
        package.id,
        trigger,
    )
    return f"created {share.id}"


def auto_share_advance(*, share_id: str) -> AutoShare:
    """Move a share on from what its package or push has become; nothing when they are still
    working or the share has moved on already (safe to call any number of times)."""
    start_push = False
    with transaction.atomic():
        share = (
            AutoShare.objects.select_for_update(of=("self",))
            .select_related("rule", "package", "push_job")
            .get(pk=share_id)
        )
        if share.status == AutoShareStatus.PACKAGING:
            package = share.package
            if package is None:
                _fail(share, "The package was deleted before it was shared.")
            elif package.status == PackageStatus.SUCCEEDED:
                if share.rule.require_approval:
                    share.status = AutoShareStatus.AWAITING_APPROVAL
                    share.save()
                    notifications.notify_enqueue(
                        share_id=share.id, kind=NotificationKind.APPROVAL_REQUEST
                    )
                    logger.info("automatic share %s: awaiting approval", share.id)
                else:
                    start_push = True
            elif package.status in TERMINAL_PACKAGE_STATUSES:
                _fail(
                    share,
                    f"Package {package.id} {package.status}: "
                    f"{package.error_message or 'no message'}",
                )
        elif share.status == AutoShareStatus.PUSHING and share.push_job is not None:
            job = share.push_job
            if job.status == PushStatus.SUCCEEDED:
                share.status = AutoShareStatus.SUCCEEDED
                share.error = ""
                share.save()
                notifications.notify_enqueue(share_id=share.id, kind=NotificationKind.SUCCEEDED)
                logger.info("automatic share %s: pushed (%s)", share.id, job.id)
            elif job.status in TERMINAL_PUSH_STATUSES:
                _fail(share, f"Push {job.id} {job.status}: {job.error_message or 'no message'}")
    if start_push:
        # Its own transaction, lock and state check: a concurrent caller starts nothing twice.
        share = auto_share_start_push(share_id=share_id)
    return share


def _fail(share: AutoShare, error: str) -> None:
    """Caller holds select_for_update on the share."""
    share.status = AutoShareStatus.FAILED
    share.error = error[:10_000]
    share.save()
    notifications.notify_enqueue(share_id=share.id, kind=NotificationKind.FAILED)
    logger.warning("automatic share %s failed: %s", share.id, error)


# --- Hooks (registered in AutomationAppConfig.ready) --------------------------------------------


def on_package_finished(*, package_id: str, status: str) -> None:
    share_id = AutoShare.objects.filter(package_id=package_id).values_list("id", flat=True).first()
    if share_id:
        auto_share_advance(share_id=share_id)


def on_push_finished(*, push_job_id: str, status: str) -> None:
    share_id = (
        AutoShare.objects.filter(push_job_id=push_job_id).values_list("id", flat=True).first()
    )
    if share_id:
        auto_share_advance(share_id=share_id)


# --- Reconciliation (beat) -----------------------------------------------------------------------


def auto_shares_reconcile(*, now: dt.datetime | None = None) -> dict[str, int]:
    """Catch up with what events and hooks missed.

    - Runs catalogued within AUTO_SHARE_LOOKBACK_HOURS whose rule projects have FASTQs on them
      and no share for that rule are evaluated (trigger RECONCILIATION).
    - Shares whose package or push has finished but that did not move on (the hook runs in the
      finishing process after commit and is lost if that process dies) are advanced.
    - Notifications still PENDING long after they were created (their task was lost) are queued
      again.
    """
    now = now or timezone.now()
    since = now - dt.timedelta(hours=settings.AUTO_SHARE_LOOKBACK_HOURS)
    counts = {
        "runsEvaluated": 0,
        "sharesCreated": 0,
        "sharesAdvanced": 0,
        "notificationsResent": 0,
    }
    run_ids: set[int] = set()
    for rule in AutoShareRule.objects.filter(enabled=True):
        run_ids.update(
            SequencingRun.objects.filter(
                created_at__gte=since,
                fastqs__library__projects__project_id__in=rule.project_ids,
            )
            .exclude(auto_shares__rule=rule)
            .values_list("pk", flat=True)
            .distinct()
        )
    for run in SequencingRun.objects.filter(pk__in=run_ids).order_by("created_at"):
        with transaction.atomic():
            evaluation = auto_share_evaluate_run(run=run, trigger=Trigger.RECONCILIATION)
        counts["runsEvaluated"] += 1
        counts["sharesCreated"] += sum(
            1 for outcome in evaluation.rules.values() if outcome.startswith(("created", "failed"))
        )
    stalled = AutoShare.objects.filter(
        status=AutoShareStatus.PACKAGING, package__status__in=TERMINAL_PACKAGE_STATUSES
    ) | AutoShare.objects.filter(status=AutoShareStatus.PACKAGING, package__isnull=True)
    stalled |= AutoShare.objects.filter(
        status=AutoShareStatus.PUSHING, push_job__status__in=TERMINAL_PUSH_STATUSES
    )
    for share_id in list(stalled.values_list("id", flat=True)):
        before = AutoShare.objects.values_list("status", flat=True).get(pk=share_id)
        try:
            after = auto_share_advance(share_id=share_id).status
        except DomainError as exc:
            logger.warning("automatic share %s: could not advance: %s", share_id, exc.message)
            continue
        counts["sharesAdvanced"] += after != before
    counts["notificationsResent"] = notifications.notifications_resend_stale(now=now)
    if any(counts.values()):
        logger.info("automatic share reconciliation: %s", counts)
    return counts
