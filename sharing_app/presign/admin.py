from django.contrib import admin
from django.http import HttpRequest

from sharing_app.presign.models import Presign


@admin.register(Presign)
class PresignAdmin(admin.ModelAdmin[Presign]):
    """Read-only: presigns are an audit trail of who received download URLs."""

    list_display = [
        "id",
        "package_id",
        "package_name",
        "created_by",
        "created_at",
        "file_count",
        "total_bytes",
        "file_urls_expire_at",
        "signer",
    ]
    list_filter = ["created_at", "signer"]
    search_fields = ["id", "package__id", "package_name", "created_by__username"]
    list_select_related = ["created_by"]
    date_hierarchy = "created_at"
    readonly_fields = [field.name for field in Presign._meta.fields]
    fields = tuple(readonly_fields)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Presign | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Presign | None = None) -> bool:
        return False
