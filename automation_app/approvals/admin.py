"""The approve / reject actions for automatic shares.

`approve_selected` and `reject_selected` are plain admin actions for the AutoShare admin
(registered in `automation_app/admin.py`): add them to its `actions`. They check the approval
permission themselves, whoever wires them.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from automation_app.approvals import services as approvals
from automation_app.models import AutoShare, DecisionChannel
from datasharing.auth import request_user
from datasharing.errors import DomainError


def _decide(
    modeladmin: admin.ModelAdmin[Any],
    request: HttpRequest,
    queryset: QuerySet[AutoShare],
    *,
    decide: Any,
    done: str,
) -> None:
    if not approvals.user_may_approve(request.user):
        modeladmin.message_user(
            request,
            "Approving automatic shares needs the admin role or the approve_autoshare permission.",
            level=messages.ERROR,
        )
        return
    decided = 0
    for share_id in queryset.values_list("id", flat=True):
        try:
            share = decide(share_id=share_id, via=DecisionChannel.ADMIN, user=request_user(request))
        except DomainError as exc:
            modeladmin.message_user(request, exc.message, level=messages.WARNING)
            continue
        decided += 1
        if share.error:
            modeladmin.message_user(request, f"{share.id}: {share.error}", level=messages.WARNING)
    if decided:
        modeladmin.message_user(request, f"{done} {decided} automatic share(s).")


@admin.action(description="Approve selected automatic shares (start their pushes)")
def approve_selected(
    modeladmin: admin.ModelAdmin[Any], request: HttpRequest, queryset: QuerySet[AutoShare]
) -> None:
    _decide(modeladmin, request, queryset, decide=approvals.auto_share_approve, done="Approved")


@admin.action(description="Reject selected automatic shares")
def reject_selected(
    modeladmin: admin.ModelAdmin[Any], request: HttpRequest, queryset: QuerySet[AutoShare]
) -> None:
    _decide(modeladmin, request, queryset, decide=approvals.auto_share_reject, done="Rejected")
