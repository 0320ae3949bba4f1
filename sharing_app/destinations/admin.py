"""Admin: the allowed destinations (editable)."""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from sharing_app.destinations.models import AllowedDestination


@admin.register(AllowedDestination)
class AllowedDestinationAdmin(admin.ModelAdmin[AllowedDestination]):
    list_display = ["prefix", "enabled", "description", "created_by", "created_at"]
    list_filter = ["enabled"]
    search_fields = ["prefix", "description"]
    readonly_fields = ["created_by", "created_at"]

    def save_model(
        self, request: HttpRequest, obj: AllowedDestination, form: Any, change: bool
    ) -> None:
        if not change and request.user.is_authenticated:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)
