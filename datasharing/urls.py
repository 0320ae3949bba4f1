from typing import Any

from django.contrib import admin
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import include, path, register_converter
from django.views.defaults import page_not_found
from drf_spectacular.views import SpectacularJSONAPIView, SpectacularSwaggerView

from datasharing.converters import JobIdConverter
from datasharing.health import HealthLiveView, HealthReadyView, HealthView

register_converter(JobIdConverter, "jobid")

urlpatterns = [
    path("healthz", HealthView.as_view(), name="healthz"),
    path("healthz/live", HealthLiveView.as_view(), name="healthz-live"),
    path("healthz/ready", HealthReadyView.as_view(), name="healthz-ready"),
    path("admin/", admin.site.urls),
    path("schema/openapi.json", SpectacularJSONAPIView.as_view(), name="schema"),
    path("schema/swagger-ui", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("api/v1/catalog/", include("catalog_app.urls")),
    path("api/v1/", include("sharing_app.presign.urls")),
    path("api/v1/", include("packages_app.urls")),
    path("api/v1/", include("packages_app.report.urls")),
    path("api/v1/", include("sharing_app.push.urls")),
    path("api/v1/auto-share/", include("automation_app.urls")),
    path("api/v1/", include("automation_app.approvals.urls")),
]

admin.site.site_header = "datasharing"
admin.site.site_title = "datasharing admin"


def not_found(
    request: HttpRequest, exception: Exception | None = None, **kwargs: Any
) -> HttpResponse:
    """API clients get JSON for unknown paths; browsers get the usual page."""
    if request.path.startswith("/api/"):
        return JsonResponse({"message": f"No such endpoint: {request.path}"}, status=404)
    return page_not_found(request, exception or Exception("not found"))


handler404 = not_found
