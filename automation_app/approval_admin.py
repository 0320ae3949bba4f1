"""Admin for notifications, and the approve / reject actions for automatic shares.

`approve_selected` and `reject_selected` are plain admin actions for the AutoShare admin
(registered in `automation_app/admin.py`): add them to its `actions`. They check the approval
permission themselves, whoever wires them.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from automation_app import approvals, notifications
from automation_app.models import AutoShare, DecisionChannel, Notification, NotificationStatus
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
            share = decide(share_id=share_id, via=DecisionChannel.ADMIN, user=request.user)
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


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin[Notification]):
    """Delivery records: written by the notification tasks; failed ones can be sent again."""

    list_display = [
        "id",
        "share_link",
        "kind",
        "channel",
        "target",
        "status",
        "attempts",
        "created_at",
        "sent_at",
    ]
    list_filter = ["status", "channel", "kind"]
    search_fields = ["=share__id", "target", "share__rule__job_name", "error"]
    list_select_related = ["share"]
    readonly_fields = [
        "share",
        "kind",
        "channel",
        "target",
        "status",
        "attempts",
        "error",
        "slack_ts",
        "created_at",
        "sent_at",
    ]
    actions = ["send_again"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="Automatic share", ordering="share")
    def share_link(self, notification: Notification) -> str:
        url = reverse("admin:index") + f"automation_app/autoshare/{notification.share_id}/change/"
        return format_html('<a href="{}">{}</a>', url, notification.share_id)

    @admin.action(description="Send selected failed notifications again")
    def send_again(self, request: HttpRequest, queryset: QuerySet[Notification]) -> None:
        queued = sum(
            notifications.notification_retry(notification=row)
            for row in queryset.filter(status=NotificationStatus.FAILED)
        )
        self.message_user(request, f"Queued {queued} notification(s) to be sent again.")
