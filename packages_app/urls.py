"""Package endpoints, included at /api/v1/ (other apps add `package/<id>:push`, `:presign`, ...)."""

from django.urls import path

from packages_app import api

urlpatterns = [
    path("package/", api.PackageListCreateApi.as_view(), name="package-list"),
    path("package", api.PackageListCreateNoSlashApi.as_view(), name="package-list-no-slash"),
    path("package:dryRun", api.PackageDryRunApi.as_view(), name="package-dry-run"),
    path("package/<jobid:package_id>", api.PackageDetailApi.as_view(), name="package-detail"),
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
