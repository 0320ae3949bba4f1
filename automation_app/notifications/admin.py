"""Admin: notification delivery records; failed ones can be sent again."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from automation_app.notifications import services as notifications
from automation_app.notifications.models import Notification, NotificationStatus


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
