from django.urls import path

from sharing_app import presign_api

urlpatterns = [
    path(
        "package/<jobid:package_id>:presign",
        presign_api.PackagePresignApi.as_view(),
        name="package-presign",
    ),
    path(
        "package/<jobid:package_id>/presigns",
        presign_api.PackagePresignListApi.as_view(),
        name="package-presigns",
    ),
    path("presign", presign_api.PresignListApi.as_view(), name="presign-list"),
    path(
        "presign/<jobid:presign_id>",
        presign_api.PresignDetailApi.as_view(),
        name="presign-detail",
    ),
]
