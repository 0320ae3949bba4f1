"""The project's URLs plus views that crash, to see what a client gets from an unexpected error."""

from django.http import HttpRequest, HttpResponse
from django.urls import path
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response

from datasharing import errors
from datasharing.api import ApiView
from datasharing.urls import urlpatterns as project_urlpatterns

SECRET_DETAIL = "database password is hunter2"


class CrashingApi(ApiView):
    authentication_classes: list[type] = []
    permission_classes = [AllowAny]

    def get(self, request: Request) -> Response:
        raise RuntimeError(SECRET_DETAIL)


def crashing_page(request: HttpRequest) -> HttpResponse:
    raise RuntimeError(SECRET_DETAIL)


urlpatterns = [
    path("api/v1/crash", CrashingApi.as_view()),
    path("crash", crashing_page),
    path("admin/crash", crashing_page),
    *project_urlpatterns,
]

handler400 = errors.bad_request
handler403 = errors.permission_denied
handler404 = errors.not_found
handler500 = errors.server_error
