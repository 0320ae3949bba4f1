"""Admin: the allowed catalogue sources (editable)."""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from catalog_app.sources.models import AllowedSource


@admin.register(AllowedSource)
class AllowedSourceAdmin(admin.ModelAdmin[AllowedSource]):
    list_display = ["prefix", "enabled", "description", "created_by", "created_at"]
    list_filter = ["enabled"]
    search_fields = ["prefix", "description"]
    readonly_fields = ["created_by", "created_at"]

    def save_model(self, request: HttpRequest, obj: AllowedSource, form: Any, change: bool) -> None:
        if not change and request.user.is_authenticated:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)
