from django.urls import path

from datasharing.routing import operations_by_method
from sharing_app.presign import api

urlpatterns = [
    path(
        "package/<jobid:package_id>:presign",
        operations_by_method(get=api.PackagePresignGetApi, post=api.PackagePresignApi),
        name="package-presign",
    ),
    path(
        "package/<jobid:package_id>/presigns",
        api.PackagePresignListApi.as_view(),
        name="package-presigns",
    ),
    path("presign", api.PresignListApi.as_view(), name="presign-list"),
    path(
        "presign/<jobid:presign_id>",
        api.PresignDetailApi.as_view(),
        name="presign-detail",
    ),
]
