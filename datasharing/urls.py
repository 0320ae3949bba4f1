from django.contrib import admin
from django.urls import include, path, register_converter
from drf_spectacular.views import SpectacularJSONAPIView, SpectacularSwaggerView

from datasharing import errors
from datasharing.converters import JobIdConverter, RowIdConverter
from datasharing.health import HealthLiveView, HealthReadyView, HealthView

register_converter(JobIdConverter, "jobid")
register_converter(RowIdConverter, "rowid")

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


handler400 = errors.bad_request
handler403 = errors.permission_denied
handler404 = errors.not_found
handler500 = errors.server_error
