"""Presign API: create a download script for a package; list and read presign records.

One view per operation (`GET|POST package/{id}:presign` are joined in urls.py: the GET form is the
predecessor's). A presign as recorded is `PresignDetailApi.OutputSerializer` (component
`PresignRecord`).
"""

from django.conf import settings
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    extend_schema_serializer,
)
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from datasharing import s3
from datasharing.api import ApiView, StrictSerializer
from datasharing.auth import CURATOR, request_user
from datasharing.pagination import EnvelopePagination
from datasharing.query import public_id_re, query_datetime, query_int, query_list
from datasharing.schema import date_parameter, list_parameter
from packages_app.selectors import package_get
from sharing_app.presign.models import Presign
from sharing_app.presign.services import package_presign, presign_get, presign_list


class PresignDetailApi(ApiView):
    @extend_schema_serializer(component_name="PresignRecord")
    class OutputSerializer(serializers.ModelSerializer[Presign]):
        """A presign as recorded (no URLs: they are credentials)."""

        created_by = serializers.CharField(source="created_by.username", default=None)
        has_expired = serializers.BooleanField()
        script_uri = serializers.SerializerMethodField()

        class Meta:
            model = Presign
            fields = [
                "id",
                "package_id",
                "package_name",
                "created_by",
                "created_at",
                "file_url_expiry_seconds",
                "file_urls_expire_at",
                "script_url_expires_at",
                "has_expired",
                "file_count",
                "total_bytes",
                "script_uri",
                "script_bytes",
                "script_sha256",
                "signer",
                "duration_ms",
            ]

        def get_script_uri(self, presign: Presign) -> str:
            return str(s3.S3Uri(presign.script_bucket, presign.script_key))

    @extend_schema(operation_id="presign_get", responses={200: OutputSerializer})
    def get(self, request: Request, presign_id: str) -> Response:
        return Response(self.OutputSerializer(presign_get(presign_id=presign_id)).data)


_EXPIRY_HELP = (
    "Lifetime of the file URLs in seconds (default PRESIGN_FILE_URL_EXPIRY_SECONDS, 7 days; at "
    "least PRESIGN_FILE_URL_MIN_EXPIRY_SECONDS, 15 minutes; at most "
    "PRESIGN_FILE_URL_MAX_EXPIRY_SECONDS, never above SigV4's 7 days)."
)
_PRESIGN_CONFLICT = OpenApiResponse(
    description="The package has not SUCCEEDED, has expired, or has archived files not restored."
)


# The bounds the presign service enforces (`_file_url_expiry`, from the settings it reads when
# asked), as the document states them.
_EXPIRY_SCHEMA = {
    "type": "integer",
    "minimum": settings.PRESIGN_FILE_URL_MIN_EXPIRY_SECONDS,
    "maximum": min(settings.PRESIGN_FILE_URL_MAX_EXPIRY_SECONDS, s3.SIGV4_MAX_EXPIRES_IN),
}


@extend_schema_field(_EXPIRY_SCHEMA)
class _ExpiryField(serializers.IntegerField):
    """Seconds; the range is the service's to check (400 saying the bounds)."""


class PackagePresignApi(ApiView):
    """`GET|POST /api/v1/package/{id}:presign`: curators and admins only (also for GET)."""

    required_role = CURATOR

    class InputSerializer(StrictSerializer):
        file_url_expiry_seconds = _ExpiryField(required=False, help_text=_EXPIRY_HELP)

    @extend_schema_serializer(component_name="PackagePresignOutput")
    class OutputSerializer(PresignDetailApi.OutputSerializer):
        script_name = serializers.SerializerMethodField()
        script_url = serializers.SerializerMethodField(
            help_text="Presigned URL of the script (short-lived; never stored)."
        )
        warnings = serializers.SerializerMethodField()

        class Meta(PresignDetailApi.OutputSerializer.Meta):
            fields = [
                *PresignDetailApi.OutputSerializer.Meta.fields,
                "script_name",
                "script_url",
                "warnings",
            ]

        def get_script_name(self, presign: Presign) -> str:
            return presign.script_key.rsplit("/", 1)[-1]

        def get_script_url(self, presign: Presign) -> str:
            return str(self.context["script_url"])

        def get_warnings(self, presign: Presign) -> list[str]:
            return list(self.context["warnings"])

    @extend_schema(
        operation_id="package_presign",
        request=InputSerializer,
        responses={201: OutputSerializer, 409: _PRESIGN_CONFLICT},
    )
    def post(self, request: Request, package_id: str) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        package = package_get(package_id=package_id)
        result = package_presign(
            package=package,
            user=request_user(request),
            file_url_expiry_seconds=serializer.validated_data.get("file_url_expiry_seconds"),
        )
        output = self.OutputSerializer(
            result.presign, context={"script_url": result.script_url, "warnings": result.warnings}
        )
        return Response(output.data, status=status.HTTP_201_CREATED)


class PackagePresignGetApi(ApiView):
    required_role = CURATOR

    OutputSerializer = PackagePresignApi.OutputSerializer
    query_parameters = [
        OpenApiParameter("fileUrlExpirySeconds", _EXPIRY_SCHEMA, description=_EXPIRY_HELP)
    ]

    @extend_schema(
        operation_id="package_presign_get",
        responses={200: OutputSerializer, 409: _PRESIGN_CONFLICT},
        description="Predecessor-compatible GET form of POST: creates a presign (curators only).",
    )
    def get(self, request: Request, package_id: str) -> Response:
        expiry = query_int(request.query_params, "fileUrlExpirySeconds", minimum=0)
        package = package_get(package_id=package_id)
        result = package_presign(
            package=package, user=request_user(request), file_url_expiry_seconds=expiry
        )
        output = self.OutputSerializer(
            result.presign, context={"script_url": result.script_url, "warnings": result.warnings}
        )
        return Response(output.data)


PACKAGE_ID_RE = public_id_re("pkg")
_LIST_PARAMETERS = [
    list_parameter("createdBy", "Usernames.", max_length=150),
    date_parameter("createdAfter", "Created at or after."),
    date_parameter("createdBefore", "Created before."),
]


class PresignListApi(ApiView):
    OutputSerializer = PresignDetailApi.OutputSerializer
    pagination_class = EnvelopePagination
    query_parameters = [
        list_parameter(
            "packageId", "Package ids (`pkg.<ULID>` or the bare ULID).", pattern=PACKAGE_ID_RE
        ),
        *_LIST_PARAMETERS,
    ]

    @extend_schema(operation_id="presign_list", responses={200: OutputSerializer(many=True)})
    def get(self, request: Request) -> Response:
        params = request.query_params
        presigns = presign_list(
            package_ids=query_list(params, "packageId", pattern=PACKAGE_ID_RE),
            created_by=query_list(params, "createdBy", max_length=150),
            created_after=query_datetime(params, "createdAfter"),
            created_before=query_datetime(params, "createdBefore"),
        )
        return self.pagination_class.response(
            queryset=presigns, serializer_class=self.OutputSerializer, request=request, view=self
        )


class PackagePresignListApi(ApiView):
    """Presigns of one package (404 for an unknown package; records of deleted packages are
    listed by `GET /api/v1/presign?packageId=`)."""

    OutputSerializer = PresignDetailApi.OutputSerializer
    pagination_class = EnvelopePagination
    query_parameters = _LIST_PARAMETERS

    @extend_schema(
        operation_id="package_presigns_list", responses={200: OutputSerializer(many=True)}
    )
    def get(self, request: Request, package_id: str) -> Response:
        package = package_get(package_id=package_id)
        params = request.query_params
        presigns = presign_list(
            package_ids=[package.id],
            created_by=query_list(params, "createdBy", max_length=150),
            created_after=query_datetime(params, "createdAfter"),
            created_before=query_datetime(params, "createdBefore"),
        )
        return self.pagination_class.response(
            queryset=presigns, serializer_class=self.OutputSerializer, request=request, view=self
        )
