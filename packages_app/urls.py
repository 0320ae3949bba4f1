"""Package endpoints, included at /api/v1/ (other apps add `package/<id>:push`, `:presign`, ...)."""

from django.urls import path

from datasharing.routing import operations_by_method
from packages_app import api

urlpatterns = [
    path(
        "package/",
        operations_by_method(get=api.PackageListApi, post=api.PackageCreateApi),
        name="package-list",
    ),
    # Without the slash, as the predecessor's CLI calls it; documented once, with the slash.
    path(
        "package",
        operations_by_method(get=api.PackageListApi, post=api.PackageCreateApi, in_schema=False),
        name="package-list-no-slash",
    ),
    path("package:dryRun", api.PackageDryRunApi.as_view(), name="package-dry-run"),
    path(
        "package/<jobid:package_id>",
        operations_by_method(get=api.PackageDetailApi, delete=api.PackageDeleteApi),
        name="package-detail",
    ),
    path("package/<jobid:package_id>:abort", api.PackageAbortApi.as_view(), name="package-abort"),
    path(
        "package/<jobid:package_id>/libraries",
        api.PackageLibraryListApi.as_view(),
        name="package-libraries",
    ),
    path(
        "package/<jobid:package_id>/fastqs",
        api.PackageFastqListApi.as_view(),
        name="package-fastqs",
    ),
    path(
        "package/<jobid:package_id>/analyses",
        api.PackageAnalysisListApi.as_view(),
        name="package-analyses",
    ),
    path(
        "package/<jobid:package_id>/files", api.PackageFileListApi.as_view(), name="package-files"
    ),
]
