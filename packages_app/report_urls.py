"""Report endpoints; included by datasharing/urls.py under `api/v1/`."""

from django.urls import path

from packages_app import report_api

urlpatterns = [
    path(
        "package/<jobid:package_id>:getSummaryReport",
        report_api.PackageSummaryReportApi.as_view(),
        name="package-summary-report",
    ),
    path(
        "package/<jobid:package_id>/report",
        report_api.PackageReportApi.as_view(),
        name="package-report",
    ),
]
