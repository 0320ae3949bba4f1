"""Approving and rejecting automatic shares that await approval (Slack, API, admin).

Both lock the share row and require AWAITING_APPROVAL (else 409), so of two decisions made at
once (a double click, Slack and the API together) exactly one wins and the other is told what
happened; an approval starts the push through `auto_share_start_push`, once.
"""

from __future__ import annotations

import logging

from django.contrib.auth.models import AnonymousUser, User
from django.db import transaction
from django.utils import timezone

from automation_app import services
from automation_app.models import AutoShare, AutoShareStatus, DecisionChannel
from automation_app.notifications import services as notifications
from automation_app.notifications.models import NotificationKind
from datasharing.auth import user_is_admin
from datasharing.errors import Conflict, DomainError, NotFound
from datasharing.ids import normalize_id

logger = logging.getLogger(__name__)

APPROVE_PERMISSION = "automation_app.approve_autoshare"


def user_may_approve(user: User | AnonymousUser | None) -> bool:
    """Admins, and users holding `automation_app.approve_autoshare` (the curator group has it)."""
    if not user or not user.is_authenticated or not user.is_active:
        return False
    return bool(user_is_admin(user) or user.has_perm(APPROVE_PERMISSION))


def auto_share_get(*, share_id: str) -> AutoShare:
    """The share with this id (`ash.<ULID>` or a bare ULID); NotFound when unknown."""
    normalized = normalize_id(share_id, prefix="ash")
    share = AutoShare.objects.select_related("rule", "run").filter(pk=normalized).first()
    if share is None:
        raise NotFound(f"No automatic share with id {share_id!r}.")
    return share


def _lock_awaiting(share_id: str) -> AutoShare:
    """Caller is inside a transaction. 404 when unknown, 409 when not awaiting approval."""
    share = auto_share_get(share_id=share_id)
    share = AutoShare.objects.select_for_update().select_related("rule").get(pk=share.pk)
    if share.status != AutoShareStatus.AWAITING_APPROVAL:
        decided = ""
        if share.decided_at:
            who = share.decided_by_slack_user or (
                share.decided_by.get_username() if share.decided_by else ""
            )
            decided = f" (decided via {share.decided_via}{' by ' + who if who else ''})"
        raise Conflict(
            f"Automatic share {share.id} is {share.status}{decided}; only shares awaiting "
            "approval can be approved or rejected.",
            details={"status": share.status},
        )
    return share


def auto_share_approve(
    *, share_id: str, via: str, user: User | None = None, slack_user: str = "", comment: str = ""
) -> AutoShare:
    """Approve: start the push (the share becomes PUSHING, or FAILED when the sharing app refuses
    the push, with the reason in `error`)."""
    with transaction.atomic():
        share = _lock_awaiting(share_id)
        if comment:
            AutoShare.objects.filter(pk=share.pk).update(decision_comment=comment)
        share = services.auto_share_start_push(
            share_id=share.pk, user=user, slack_user=slack_user, via=via
        )
    logger.info("automatic share %s approved via %s", share.id, via)
    return share


def auto_share_reject(
    *, share_id: str, via: str, user: User | None = None, slack_user: str = "", comment: str = ""
) -> AutoShare:
    """Reject: nothing is pushed; the share is REJECTED and the rule's targets are told."""
    with transaction.atomic():
        share = _lock_awaiting(share_id)
        share.status = AutoShareStatus.REJECTED
        share.decided_via = via
        share.decided_at = timezone.now()
        share.decided_by = user if getattr(user, "pk", None) else None
        share.decided_by_slack_user = slack_user
        share.decision_comment = comment
        share.save()
        notifications.notify_enqueue(share_id=share.id, kind=NotificationKind.REJECTED)
    logger.info("automatic share %s rejected via %s", share.id, via)
    return share


def auto_share_slack_decide(*, share_id: str, approve: bool, slack_user: str) -> str:
    """A Push (`approve`) or Reject click by `slack_user` (from a verified Slack request).
    Only the rule's `slack_approvers` may decide; returns what to tell the clicker (refusals,
    a share already decided, an unknown share change nothing)."""
    try:
        share = auto_share_get(share_id=share_id)
    except DomainError as exc:
        return exc.message
    if slack_user not in (share.rule.slack_approvers or []):
        logger.warning("automatic share %s: Slack user %s is not an approver", share.id, slack_user)
        return (
            f"You are not allowed to approve or reject automatic shares of rule "
            f"{share.rule.job_name}; nothing was changed."
        )
    decide = auto_share_approve if approve else auto_share_reject
    try:
        share = decide(share_id=share.id, via=DecisionChannel.SLACK, slack_user=slack_user)
    except DomainError as exc:
        return exc.message
    if not approve:
        return f"Rejected automatic share {share.id}; nothing is pushed."
    if share.push_job_id:
        return f"Approved: push {share.push_job_id} started for automatic share {share.id}."
    return f"Approved, but the push could not start: {share.error}"
