"""Admin: auto-share rules (editable, validated like the API) and automatic shares (read-only,
with the approve / reject actions of the approvals area). Events and notifications have their
admin pages in their areas, registered here (Django's admin imports `<app>.admin`)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from automation_app.approvals.admin import approve_selected, reject_selected
from automation_app.events.admin import ReceivedEventAdmin
from automation_app.models import AutoShare, AutoShareRule
from automation_app.notifications.admin import NotificationAdmin
from automation_app.rules import (
    RULE_FIELDS,
    auto_share_rule_delete,
    auto_share_rule_may_change,
    auto_share_rule_save,
    auto_share_rule_validate,
)
from datasharing.admin import ReadOnlyAdmin
from datasharing.auth import request_user
from datasharing.errors import DomainError

__all__ = ["AutoShareAdmin", "AutoShareRuleAdmin", "NotificationAdmin", "ReceivedEventAdmin"]


class AutoShareRuleForm(forms.ModelForm[AutoShareRule]):
    """Runs the rules service's checks: the same messages, ownership and destination policy as
    the API (judged for the admin user editing the rule)."""

    request: HttpRequest | None = None

    class Meta:
        model = AutoShareRule
        fields = list(RULE_FIELDS.values())

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if self.errors:
            return cleaned
        by_field = {field: name for name, field in RULE_FIELDS.items()}
        rule = self.instance if self.instance.pk else None
        values = {
            by_field[field]: cleaned.get(field)
            for field in RULE_FIELDS.values()
            if rule is None or field in self.changed_data
        }
        user = request_user(self.request) if self.request is not None else None
        try:
            validated = auto_share_rule_validate(values=values, rule=rule, user=user)
        except DomainError as exc:
            raise forms.ValidationError(exc.message) from None
        cleaned.update(validated)
        return cleaned


@admin.register(AutoShareRule)
class AutoShareRuleAdmin(admin.ModelAdmin[AutoShareRule]):
    form = AutoShareRuleForm
    list_display = [
        "job_name",
        "enabled",
        "project_ids",
        "data_types",
        "share_destination",
        "require_approval",
        "created_by",
        "updated_at",
    ]
    list_filter = ["enabled", "require_approval"]
    search_fields = ["job_name", "share_destination"]
    readonly_fields = ["created_by", "changed_by", "created_at", "updated_at"]

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> Any:
        base = super().get_form(request, obj, change=change, **kwargs)
        # A class per request: the validation judges the destination for this admin user.
        return type(base.__name__, (base,), {"request": request})

    def save_model(self, request: HttpRequest, obj: AutoShareRule, form: Any, change: bool) -> None:
        # The form ran the service's checks for this user; the service records who did it.
        auto_share_rule_save(rule=obj, user=request_user(request))

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Another user's rule is its creator's or an admin's to change: others see it read-only.
        if obj is not None and not auto_share_rule_may_change(rule=obj, user=request_user(request)):
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # A rule with shares is their history (the foreign key protects it); disable it instead.
        if obj is not None and obj.shares.exists():
            return False
        if obj is not None and not auto_share_rule_may_change(rule=obj, user=request_user(request)):
            return False
        return super().has_delete_permission(request, obj)

    def delete_model(self, request: HttpRequest, obj: AutoShareRule) -> None:
        auto_share_rule_delete(rule=obj, user=request_user(request))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[AutoShareRule]) -> None:
        # The bulk action checks model permissions only: the service judges each rule.
        for rule in queryset.select_related("created_by"):
            try:
                auto_share_rule_delete(rule=rule, user=request_user(request))
            except DomainError as exc:
                self.message_user(request, exc.message, messages.WARNING)


def _admin_link(obj: Any, label: str) -> str:
    if obj is None:
        return "-"
    url = reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk])
    return format_html('<a href="{}">{}</a>', url, label)


@admin.register(AutoShare)
class AutoShareAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "rule",
        "run",
        "status",
        "trigger",
        "package_link",
        "push_link",
        "decided_via",
        "created_at",
    ]
    list_filter = ["status", "trigger", "rule"]
    search_fields = ["id", "rule__job_name", "run__instrument_run_id", "package__id"]
    list_select_related = ["rule", "run", "package", "push_job"]
    readonly_fields = ["package_link", "push_link"]
    # Approve / reject (the permission is checked inside, per share).
    actions = [approve_selected, reject_selected]

    @admin.display(description="package")
    def package_link(self, share: AutoShare) -> str:
        package = share.package
        return _admin_link(package, f"{package.id} ({package.status})" if package else "")

    @admin.display(description="push")
    def push_link(self, share: AutoShare) -> str:
        job = share.push_job
        return _admin_link(job, f"{job.id} ({job.status})" if job else "")
