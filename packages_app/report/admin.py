"""Report links and actions for the Package admin (packages_app/admin.py wires them in):

    from packages_app.report.admin import report_admin_links, rerender_report_action

    class PackageAdmin(admin.ModelAdmin[Package]):
        readonly_fields = [..., "report"]
        actions = [rerender_report_action]

        @admin.display(description="Report")
        def report(self, package: Package) -> str:
            return report_admin_links(package)

The links go to the report API, which accepts the admin's session: the HTML report streamed
through the API, the PDF, and `:getSummaryReport` (the presigned S3 URL, as API clients get it).
"""

from __future__ import annotations

import functools
from typing import Any

from django.contrib import admin, messages
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

from packages_app.models import Package, PackageStatus


def report_admin_links(package: Package) -> SafeString:
    """Links to the package's report, or why there is none yet."""
    if package.status != PackageStatus.SUCCEEDED:
        return format_html("<span>{}</span>", f"none: the package is {package.status}")
    if package.has_expired:
        return format_html("<span>{}</span>", "none: the package has expired")
    report_url = reverse("package-report", kwargs={"package_id": package.id})
    presigned_url = reverse("package-summary-report", kwargs={"package_id": package.id})
    rendered = "" if package.report_html_key else " (rendered when first opened)"
    return format_html(
        '<a href="{}" target="_blank" rel="noopener">HTML report</a> · '
        '<a href="{}?format=pdf" target="_blank" rel="noopener">PDF</a> · '
        '<a href="{}?format=pdf&amp;download=true">download PDF</a> · '
        '<a href="{}" target="_blank" rel="noopener">presigned S3 URL</a>{}',
        report_url,
        report_url,
        report_url,
        presigned_url,
        rendered,
    )


@admin.action(description="Render the report again (selected SUCCEEDED packages)")
def rerender_report_action(
    modeladmin: admin.ModelAdmin[Any], request: HttpRequest, queryset: QuerySet[Package]
) -> None:
    from packages_app.report.tasks import package_report_render_task

    package_ids = list(queryset.filter(status=PackageStatus.SUCCEEDED).values_list("id", flat=True))

    def enqueue(package_id: str) -> None:
        package_report_render_task.delay(package_id)

    for package_id in package_ids:
        transaction.on_commit(functools.partial(enqueue, package_id))
    skipped = queryset.count() - len(package_ids)
    modeladmin.message_user(
        request,
        f"Rendering the report of {len(package_ids)} package(s) in the background"
        + (f"; {skipped} skipped (not SUCCEEDED)." if skipped else "."),
        messages.SUCCESS if package_ids else messages.WARNING,
    )
