"""Report endpoints; included by datasharing/urls.py under `api/v1/`."""

from django.urls import path

from packages_app.report import api

urlpatterns = [
    path(
        "package/<jobid:package_id>:getSummaryReport",
        api.PackageSummaryReportApi.as_view(),
        name="package-summary-report",
    ),
    path(
        "package/<jobid:package_id>/report",
        api.PackageReportApi.as_view(),
        name="package-report",
    ),
]
