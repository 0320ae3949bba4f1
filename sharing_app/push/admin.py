"""Admin: push jobs (with an abort action) and their ledger, read-only."""

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from datasharing.admin import ReadOnlyAdmin
from datasharing.auth import request_user
from datasharing.errors import DomainError
from sharing_app.push import services
from sharing_app.push.models import PushFile, PushJob


@admin.register(PushJob)
class PushJobAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "package_name",
        "share_destination",
        "status",
        "step",
        "requested_by_name",
        "request_time",
        "file_count",
        "succeeded_count",
        "skipped_count",
        "failed_count",
    ]
    list_filter = ["status", "destination_type", "step"]
    search_fields = ["id", "package__id", "package_name", "share_destination", "requested_by_name"]
    date_hierarchy = "request_time"
    readonly_fields = ["ledger"]
    actions = ["abort_selected"]

    @admin.display(description="Ledger")
    def ledger(self, job: PushJob) -> str:
        url = reverse("admin:sharing_app_pushfile_changelist") + f"?job__id__exact={job.id}"
        return format_html('<a href="{}">{} files</a>', url, job.file_count)

    @admin.action(description="Abort selected pushes")
    def abort_selected(self, request: HttpRequest, queryset: QuerySet[PushJob]) -> None:
        # Owner-or-admin is the service's: other users' pushes are refused with a warning naming
        # their requester.
        aborted = 0
        for job in queryset:
            try:
                services.push_abort(push_job=job, user=request_user(request))
                aborted += 1
            except DomainError as exc:
                self.message_user(request, exc.message, level=messages.WARNING)
        if aborted:
            self.message_user(request, f"Aborted {aborted} push(es).")


@admin.register(PushFile)
class PushFileAdmin(ReadOnlyAdmin):
    list_display = [
        "relative_path",
        "job_link",
        "status",
        "verification_method",
        "size",
        "attempts",
        "library_id",
        "subject_id",
        "destination_uri",
        "completed_at",
    ]
    list_filter = ["status", "verification_method", "job__destination_type"]
    search_fields = [
        "=job__id",
        "relative_path",
        "=library_id",
        "=subject_id",
        "=external_subject_id",
        "project_ids",
        "destination_uri",
    ]
    list_select_related = ["job"]
    # Ledgers grow large: skip the unfiltered COUNT(*) on every page.
    show_full_result_count = False

    @admin.display(description="Push job", ordering="job")
    def job_link(self, row: PushFile) -> str:
        url = reverse("admin:sharing_app_pushjob_change", args=[row.job_id])
        return format_html('<a href="{}">{}</a>', url, row.job_id)
