"""Admin pieces shared by the apps, and the API tokens' admin."""

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from datasharing.errors import DomainError
from datasharing.models import ApiToken
from datasharing.tokens import api_token_create, api_token_revoke


class ReadOnlyAdmin(admin.ModelAdmin[Any]):
    """Audit records: visible to staff, written only by the service."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin[ApiToken]):
    """Tokens are made here (shown once, in the confirmation message) and revoked here; the
    database keeps digests only, so a lost token cannot be shown again: make a new one."""

    list_display = [
        "key_prefix",
        "user",
        "name",
        "created_at",
        "expires_at",
        "last_used_at",
        "state",
    ]
    list_filter = ["revoked_at", "expires_at"]
    search_fields = ["key_prefix", "user__username", "name"]
    list_select_related = ["user"]
    actions = ["revoke_selected"]
    add_fields = ("user", "name", "expires_at")
    shown_fields = (
        "user",
        "name",
        "key_prefix",
        "created_at",
        "expires_at",
        "last_used_at",
        "revoked_at",
    )

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        return () if obj is None else self.shown_fields

    def get_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        return self.add_fields if obj is None else self.shown_fields

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Nothing about a token is edited: it is made, viewed and revoked.
        return False

    @admin.display(description="state")
    def state(self, api_token: ApiToken) -> str:
        if api_token.revoked_at is not None:
            return "revoked"
        return "active" if api_token.is_active else "expired"

    def save_model(self, request: HttpRequest, obj: ApiToken, form: Any, change: bool) -> None:
        try:
            row, token = api_token_create(user=obj.user, name=obj.name, expires_at=obj.expires_at)
        except DomainError as exc:
            self.message_user(request, exc.message, level=messages.ERROR)
            return
        obj.pk = row.pk
        obj.key_prefix = row.key_prefix
        self.message_user(
            request,
            f"New API token for {row.user}: {token} (copy it now: it is not stored and cannot "
            "be shown again).",
            level=messages.WARNING,
        )

    @admin.action(description="Revoke selected tokens")
    def revoke_selected(self, request: HttpRequest, queryset: QuerySet[ApiToken]) -> None:
        revoked = sum(api_token_revoke(api_token=row) for row in queryset)
        self.message_user(request, f"Revoked {revoked} token(s).")
