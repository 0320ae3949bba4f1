"""Reads of auto-share rules, automatic shares and received events."""

from __future__ import annotations

from django.db.models import Count, Q, QuerySet

from automation_app.events.models import ReceivedEvent
from automation_app.models import AutoShare, AutoShareRule
from datasharing.errors import NotFound
from datasharing.ids import normalize_id
from datasharing.query import MAX_INT


def auto_share_rule_list(
    *, job_names: list[str] | None = None, enabled: bool | None = None
) -> QuerySet[AutoShareRule]:
    rules = AutoShareRule.objects.select_related("created_by").annotate(share_count=Count("shares"))
    if job_names:
        rules = rules.filter(job_name__in=job_names)
    if enabled is not None:
        rules = rules.filter(enabled=enabled)
    return rules.order_by("-created_at", "-id")


def auto_share_rule_get(*, rule_id: int) -> AutoShareRule:
    rule = auto_share_rule_list().filter(pk=rule_id).first()
    if rule is None:
        raise NotFound(f"No auto-share rule with id {rule_id}.")
    return rule


def auto_share_list(
    *,
    rule_ids: list[int] | None = None,
    job_names: list[str] | None = None,
    statuses: list[str] | None = None,
    instrument_run_ids: list[str] | None = None,
) -> QuerySet[AutoShare]:
    """Shares of the rules given by id or by job name (either matches). Ids beyond a signed
    64-bit integer match nothing (SQLite cannot compare them)."""
    shares = AutoShare.objects.select_related("rule", "run", "package", "push_job", "decided_by")
    if rule_ids or job_names:
        ids = [rule_id for rule_id in rule_ids or [] if 0 < rule_id <= MAX_INT]
        shares = shares.filter(Q(rule_id__in=ids) | Q(rule__job_name__in=job_names or []))
    if statuses:
        shares = shares.filter(status__in=statuses)
    if instrument_run_ids:
        shares = shares.filter(run__instrument_run_id__in=instrument_run_ids)
    return shares.order_by("-created_at", "-id")


def auto_share_get(*, share_id: str) -> AutoShare:
    normalized = normalize_id(share_id, prefix="ash")
    share = auto_share_list().filter(pk=normalized).first()
    if share is None:
        raise NotFound(f"No automatic share with id {share_id!r}.")
    return share


def received_event_list(
    *, statuses: list[str] | None = None, detail_types: list[str] | None = None
) -> QuerySet[ReceivedEvent]:
    events = ReceivedEvent.objects.all()
    if statuses:
        events = events.filter(status__in=statuses)
    if detail_types:
        events = events.filter(detail_type__in=detail_types)
    return events.order_by("-received_at", "-id")
