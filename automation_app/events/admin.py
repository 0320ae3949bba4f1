"""Admin: received platform events (read-only)."""

from django.contrib import admin

from automation_app.events.models import ReceivedEvent
from datasharing.admin import ReadOnlyAdmin


@admin.register(ReceivedEvent)
class ReceivedEventAdmin(ReadOnlyAdmin):
    list_display = ["event_id", "detail_type", "source", "status", "error", "received_at"]
    list_filter = ["status", "detail_type"]
    search_fields = ["event_id", "message_id"]
