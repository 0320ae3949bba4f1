"""Report endpoints: a presigned URL of the HTML report (predecessor-compatible) and the report
itself (HTML or PDF) streamed through the API for users without access to the artifact bucket."""

from __future__ import annotations

from typing import Any

from django.http import StreamingHttpResponse
from django.utils.http import content_disposition_header
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.request import Request
from rest_framework.response import Response

from datasharing.api import ApiView
from datasharing.query import query_bool, query_choice
from datasharing.schema import bool_parameter
from packages_app.report.artifacts import REPORT_FORMATS, package_report_open, package_report_url
from packages_app.selectors import package_get, package_require_shareable

# The report's own page has a CSP <meta>; the header adds `sandbox`, so a report opened from
# the API runs in an opaque origin: its script can sort tables but never reach the API.
REPORT_CONTENT_SECURITY_POLICY = (
    "sandbox allow-scripts allow-downloads allow-popups; default-src 'none'; "
    "script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)

_ERRORS = {
    404: OpenApiResponse(description="No package with this id."),
    409: OpenApiResponse(description="The package has not SUCCEEDED, or has expired."),
}


class _FirstRendererNegotiation(BaseContentNegotiation):
    """Always the view's first renderer (JSON). `?format=pdf` chooses the report's format here,
    not a DRF renderer, and errors stay JSON whatever the client accepts."""

    def select_parser(self, request: Any, parsers: Any) -> Any:
        return parsers[0] if parsers else None

    def select_renderer(self, request: Any, renderers: Any, format_suffix: Any = None) -> Any:
        return renderers[0], renderers[0].media_type


class PackageSummaryReportApi(ApiView):
    """`GET /api/v1/package/{id}:getSummaryReport`."""

    @extend_schema(
        operation_id="package_summary_report_url",
        tags=["package"],
        summary="URL of the package's HTML report",
        description=(
            "A short-lived presigned URL (REPORT_URL_EXPIRY_SECONDS) of "
            "`SummaryReport.<packageName>.html`, returned as a JSON string like the predecessor "
            "service. The report is rendered first if it is missing."
        ),
        responses={200: OpenApiResponse(OpenApiTypes.URI, description="Presigned URL."), **_ERRORS},
    )
    def get(self, request: Request, package_id: str) -> Response:
        package = package_get(package_id=package_id)
        package_require_shareable(package=package)
        return Response(package_report_url(package=package))


class PackageReportApi(ApiView):
    """`GET /api/v1/package/{id}/report[?format=html|pdf]`: the report, streamed."""

    content_negotiation_class = _FirstRendererNegotiation
    query_parameters = [
        OpenApiParameter("format", str, enum=list(REPORT_FORMATS), default="html"),
        bool_parameter("download", "`true`: ask the browser to save the file (default false)."),
    ]

    @extend_schema(
        operation_id="package_report_retrieve",
        tags=["package"],
        summary="The package's report (HTML or PDF)",
        description=(
            "Streams `SummaryReport.<packageName>.html` (default) or `.pdf` from the artifact "
            "bucket, for users without S3 access. `download=true` asks the browser to save it."
        ),
        responses={
            (200, "text/html"): OpenApiResponse(OpenApiTypes.STR, description="HTML report."),
            (200, "application/pdf"): OpenApiResponse(
                OpenApiTypes.BINARY, description="PDF report."
            ),
            **_ERRORS,
        },
    )
    def get(self, request: Request, package_id: str) -> StreamingHttpResponse:
        report_format = query_choice(
            request.query_params, "format", list(REPORT_FORMATS), default="html"
        )
        download = bool(query_bool(request.query_params, "download"))
        package = package_get(package_id=package_id)
        package_require_shareable(package=package)
        report = package_report_open(
            package=package, report_format="pdf" if report_format == "pdf" else "html"
        )
        response = StreamingHttpResponse(report.chunks(), content_type=report.content_type)
        response["Content-Length"] = str(report.size)
        response["Content-Disposition"] = (
            content_disposition_header(download, report.file_name) or "inline"
        )
        response["Cache-Control"] = "private, no-store"
        response["X-Content-Type-Options"] = "nosniff"
        if report_format == "html":
            response["Content-Security-Policy"] = REPORT_CONTENT_SECURITY_POLICY
        return response
