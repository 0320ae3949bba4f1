"""Automatic shares: moving an `AutoShare` through PACKAGING -> AWAITING_APPROVAL -> PUSHING ->
SUCCEEDED | FAILED | REJECTED.

Every transition locks the share row (`select_for_update`) and checks its current status, so a
duplicate event, a hook delivered twice or two approval clicks at once change it only once; the
one-to-one `push_job` field is a second guard in the database.
"""

from __future__ import annotations

import logging

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from automation_app.models import AutoShare, AutoShareStatus, DecisionChannel
from automation_app.notifications import services as notifications
from automation_app.notifications.models import NotificationKind
from datasharing.errors import Conflict, DomainError
from packages_app.models import PackageStatus
from sharing_app.destinations.destination import parse_destination

logger = logging.getLogger(__name__)


def auto_share_start_push(
    *,
    share_id: str,
    user: User | None = None,
    slack_user: str = "",
    via: str = DecisionChannel.AUTOMATIC,
) -> AutoShare:
    """Start the share's push: once. Allowed from PACKAGING (a rule without approval, once the
    package SUCCEEDED) and AWAITING_APPROVAL (an approval). A share already PUSHING or finished
    is returned unchanged, so a second click or a redelivered hook starts nothing.

    The destination policy is checked for whoever last changed the rule (`changed_by`: every
    change was judged against their right to push there), not for the approver, who decides
    about this run's data, not about where the rule pushes. A rule without an editor (the command
    line, a deleted user) is held to the allow-list, or to the approver's own right to push
    there (`push_create` judges the requester when no one else is named). The approver is
    recorded as the decider and as the push's requester (None without approval: automation). A
    push the sharing app refuses (archived files, a destination no longer allowed) fails the
    share with that message and notifies.
    """
    from sharing_app.push.services import push_create

    with transaction.atomic():
        share = (
            # of=("self",): Postgres refuses FOR UPDATE on the nullable side of the outer joins
            # (package, rule editor); only the share row needs the lock.
            AutoShare.objects.select_for_update(of=("self",))
            .select_related("rule", "package", "rule__changed_by")
            .get(pk=share_id)
        )
        if share.status not in (AutoShareStatus.PACKAGING, AutoShareStatus.AWAITING_APPROVAL):
            return share
        if share.package is None or share.package.status != PackageStatus.SUCCEEDED:
            raise Conflict(
                f"Automatic share {share.id} has no successful package to push yet.",
            )
        now = timezone.now()
        share.decided_via = via
        share.decided_at = now
        share.decided_by = user if getattr(user, "pk", None) else None
        share.decided_by_slack_user = slack_user
        policy_user = share.rule.changed_by
        try:
            with transaction.atomic():
                job = push_create(
                    package=share.package,
                    # The rule's destination, normalised when the rule was saved; parsed here,
                    # where the stored string becomes a push (a malformed one fails the share).
                    destination=parse_destination(share.share_destination),
                    user=share.decided_by,
                    policy_user=policy_user,
                )
        except DomainError as exc:
            share.status = AutoShareStatus.FAILED
            share.error = f"The push could not start: {exc.message}"
            share.save()
            notifications.notify_enqueue(share_id=share.id, kind=NotificationKind.FAILED)
            logger.warning("automatic share %s: push refused: %s", share.id, exc.message)
            return share
        share.push_job = job
        share.status = AutoShareStatus.PUSHING
        share.save()
        notifications.notify_enqueue(share_id=share.id, kind=NotificationKind.PUSH_STARTED)
    logger.info("automatic share %s: push %s started (%s)", share.id, job.id, via)
    return share
