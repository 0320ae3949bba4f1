"""Push endpoints, mounted at /api/v1/ (`path("api/v1/", include("sharing_app.push.urls"))`)."""

from django.urls import path

from sharing_app.push import api

urlpatterns = [
    path("package/<jobid:package_id>:push", api.PackagePushApi.as_view(), name="package-push"),
    path("push", api.PushListApi.as_view(), name="push-list"),
    # Before push/<id>: "files" would otherwise be taken for a job id.
    path("push/files", api.PushFileSearchApi.as_view(), name="push-files-search"),
    path("push/<jobid:push_job_id>", api.PushDetailApi.as_view(), name="push-detail"),
    path("push/<jobid:push_job_id>:abort", api.PushAbortApi.as_view(), name="push-abort"),
    path("push/<jobid:push_job_id>/files", api.PushFileListApi.as_view(), name="push-files"),
]
