"""Admin: packages (read-only, with their frozen contents paginated inline and an abort action)
and frozen files; the workflow file filters' admin (editable) lives in its area."""

from __future__ import annotations

import json
import math
from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest
from django.utils.html import format_html

from datasharing.auth import request_user
from datasharing.errors import DomainError
from datasharing.ownership import user_owns_or_administers
from packages_app import services
from packages_app.lifecycle import NON_TERMINAL_STATUSES
from packages_app.models import Package, PackageAnalysis, PackageFile, PackageLibrary
from packages_app.report.admin import report_admin_links, rerender_report_action
from packages_app.workflow_filters.admin import WorkflowFileFilterAdmin

__all__ = ["PackageAdmin", "PackageFileAdmin", "WorkflowFileFilterAdmin"]

INLINE_PAGE_SIZE = 50


class _PagedFormSet(BaseInlineFormSet[Any, Any, Any]):
    """Shows one page of the inline rows (`?<prefix>_page=N`); packages hold thousands."""

    def get_queryset(self) -> QuerySet[Any]:
        if not hasattr(self, "_paged_queryset"):
            queryset = super().get_queryset()
            request = getattr(self, "request", None)
            try:
                page = max(1, int(request.GET.get(f"{self.prefix}_page", "1"))) if request else 1
            except ValueError:
                page = 1
            self.row_count = queryset.count()
            self.page_count = max(1, math.ceil(self.row_count / INLINE_PAGE_SIZE))
            self.page = min(page, self.page_count)
            start = (self.page - 1) * INLINE_PAGE_SIZE
            self._paged_queryset = queryset[start : start + INLINE_PAGE_SIZE]
        return self._paged_queryset


class _ReadOnlyPagedInline(admin.TabularInline[Any, Any]):
    formset = _PagedFormSet
    template = "admin/packages_app/paged_tabular.html"
    extra = 0
    can_delete = False
    show_change_link = False

    def get_formset(self, request: HttpRequest, obj: Any = None, **kwargs: Any) -> Any:
        formset = super().get_formset(request, obj, **kwargs)
        formset.request = request  # type: ignore[attr-defined]
        return formset

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class PackageLibraryInline(_ReadOnlyPagedInline):
    model = PackageLibrary
    fields = readonly_fields = ("library_id", "metadata")
    verbose_name_plural = "libraries (metadata at packaging time)"


class PackageAnalysisInline(_ReadOnlyPagedInline):
    model = PackageAnalysis
    fields = readonly_fields = (
        "portal_run_id",
        "workflow_name",
        "workflow_version",
        "status",
        "output_uri",
    )


class PackageFileInline(_ReadOnlyPagedInline):
    model = PackageFile
    fields = readonly_fields = (
        "relative_path",
        "data_type",
        "size",
        "storage_class",
        "restore_state",
        "source",
    )

    @admin.display(description="source")
    def source(self, obj: PackageFile) -> str:
        return obj.source_uri


@admin.register(Package)
class PackageAdmin(admin.ModelAdmin[Package]):
    list_display = [
        "id",
        "package_name",
        "status",
        "step",
        "requested_by",
        "request_time",
        "completion_time",
        "library_count",
        "file_count",
        "total_bytes",
        "archived_file_count",
    ]
    list_filter = ["status", "request_time", "completion_time"]
    search_fields = ["id", "package_name", "requested_by__username"]
    list_select_related = ["requested_by"]
    date_hierarchy = "request_time"
    show_full_result_count = False
    actions = ["abort_packages", rerender_report_action]
    inlines = [PackageLibraryInline, PackageAnalysisInline, PackageFileInline]
    fields = readonly_fields = (
        "id",
        "package_name",
        "status",
        "step",
        "error_message",
        "requested_by",
        "request_time",
        "start_time",
        "completion_time",
        "expires_at",
        "attempts",
        "restore_requested_at",
        "request_pretty",
        "library_count",
        "fastq_count",
        "workflow_run_count",
        "file_count",
        "total_bytes",
        "archived_file_count",
        "manifest_key",
        "checksums_key",
        "report",
        "report_html_key",
        "report_pdf_key",
        "files_link",
    )

    @admin.display(description="Report")
    def report(self, obj: Package) -> str:
        return report_admin_links(obj)

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Packages are created through the API or `manage.py generate_package` (validated).
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is not None and obj.status in NON_TERMINAL_STATUSES:
            return False
        # Another user's package is its requester's or an admin's to delete (the service
        # refuses the rest, e.g. in a bulk delete; this hides the button).
        if obj is not None and not user_owns_or_administers(
            user=request_user(request), owner_id=obj.requested_by_id
        ):
            return False
        return super().has_delete_permission(request, obj)

    def get_deleted_objects(self, objs: Any, request: HttpRequest) -> Any:
        # Frozen contents (not deletable on their own) go with their package.
        deleted, counts, _, protected = super().get_deleted_objects(objs, request)
        return deleted, counts, set(), protected

    def delete_model(self, request: HttpRequest, obj: Package) -> None:
        # Through the service: refused while running, and the artifacts go too.
        services.package_delete(package=obj, user=request_user(request))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Package]) -> None:
        for package in queryset:
            try:
                services.package_delete(package=package, user=request_user(request))
            except DomainError as exc:
                self.message_user(request, exc.message, messages.WARNING)

    @admin.display(description="request")
    def request_pretty(self, obj: Package) -> str:
        return format_html("<pre>{}</pre>", json.dumps(obj.request, indent=2, sort_keys=True))

    @admin.display(description="all files")
    def files_link(self, obj: Package) -> str:
        return format_html(
            '<a href="../../packagefile/?package__id__exact={}">{} files (searchable list)</a>',
            obj.id,
            obj.file_count,
        )

    @admin.action(description="Abort selected packages")
    def abort_packages(self, request: HttpRequest, queryset: QuerySet[Package]) -> None:
        # Owner-or-admin is the service's: other users' packages are refused with a warning
        # naming their requester.
        aborted, refused = 0, []
        for package in queryset:
            try:
                services.package_abort(package=package, user=request_user(request))
                aborted += 1
            except DomainError as exc:
                refused.append(exc.message)
        if aborted:
            self.message_user(request, f"Aborted {aborted} package(s).", messages.SUCCESS)
        for message in refused:
            self.message_user(request, message, messages.WARNING)


@admin.register(PackageFile)
class PackageFileAdmin(admin.ModelAdmin[PackageFile]):
    list_display = [
        "relative_path",
        "package",
        "data_type",
        "size",
        "storage_class",
        "restore_state",
        "library_id",
        "portal_run_id",
    ]
    list_filter = ["data_type", "storage_class", "restore_state"]
    search_fields = ["relative_path", "source_key", "package__id", "library_id", "portal_run_id"]
    list_select_related = ["package"]
    show_full_result_count = False
    list_per_page = 100

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [field.name for field in PackageFile._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Frozen contents are part of the package: delete the package instead.
        return False
