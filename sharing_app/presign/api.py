"""Presign API: create a download script for a package; list and read presign records.

One view per operation (`GET|POST package/{id}:presign` are joined in urls.py: the GET form is the
predecessor's). A presign as recorded is `PresignDetailApi.OutputSerializer` (component
`PresignRecord`).
"""

from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from datasharing import s3
from datasharing.auth import CURATOR, request_user
from datasharing.pagination import EnvelopePagination
from datasharing.query import query_datetime, query_list
from packages_app.selectors import package_get
from sharing_app.presign.models import Presign
from sharing_app.presign.services import package_presign, presign_get, presign_list


class PresignDetailApi(APIView):
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
    "most PRESIGN_FILE_URL_MAX_EXPIRY_SECONDS, never above SigV4's 7 days)."
)


class PackagePresignApi(APIView):
    """`GET|POST /api/v1/package/{id}:presign`: curators and admins only (also for GET)."""

    required_role = CURATOR

    class InputSerializer(serializers.Serializer):
        file_url_expiry_seconds = serializers.IntegerField(
            required=False, min_value=1, help_text=_EXPIRY_HELP
        )

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
        responses={201: OutputSerializer},
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


class PackagePresignGetApi(APIView):
    required_role = CURATOR

    # The query parameter, under the POST body's name.
    InputSerializer = PackagePresignApi.InputSerializer
    OutputSerializer = PackagePresignApi.OutputSerializer

    @extend_schema(
        operation_id="package_presign_get",
        parameters=[OpenApiParameter("fileUrlExpirySeconds", int, description=_EXPIRY_HELP)],
        responses={200: OutputSerializer},
        description="Predecessor-compatible GET form of POST: creates a presign (curators only).",
    )
    def get(self, request: Request, package_id: str) -> Response:
        raw = {}
        if "fileUrlExpirySeconds" in request.query_params:
            raw["file_url_expiry_seconds"] = request.query_params["fileUrlExpirySeconds"]
        serializer = self.InputSerializer(data=raw)
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
        return Response(output.data)


_LIST_PARAMETERS = [
    OpenApiParameter(
        "createdBy", str, many=True, description="Usernames; repeat or separate with commas."
    ),
    OpenApiParameter("createdAfter", str, description="ISO 8601 date or date-time (inclusive)."),
    OpenApiParameter("createdBefore", str, description="ISO 8601 date or date-time (exclusive)."),
]


class PresignListApi(APIView):
    OutputSerializer = PresignDetailApi.OutputSerializer
    pagination_class = EnvelopePagination

    @extend_schema(
        operation_id="presign_list",
        parameters=[
            OpenApiParameter(
                "packageId",
                str,
                many=True,
                description="Package ids; repeat or separate with commas.",
            ),
            *_LIST_PARAMETERS,
        ],
        responses={200: OutputSerializer(many=True)},
    )
    def get(self, request: Request) -> Response:
        params = request.query_params
        presigns = presign_list(
            package_ids=query_list(params, "packageId"),
            created_by=query_list(params, "createdBy"),
            created_after=query_datetime(params, "createdAfter"),
            created_before=query_datetime(params, "createdBefore"),
        )
        return self.pagination_class.response(
            queryset=presigns, serializer_class=self.OutputSerializer, request=request, view=self
        )


class PackagePresignListApi(APIView):
    """Presigns of one package (404 for an unknown package; records of deleted packages are
    listed by `GET /api/v1/presign?packageId=`)."""

    OutputSerializer = PresignDetailApi.OutputSerializer
    pagination_class = EnvelopePagination

    @extend_schema(
        operation_id="package_presigns_list",
        parameters=_LIST_PARAMETERS,
        responses={200: OutputSerializer(many=True)},
    )
    def get(self, request: Request, package_id: str) -> Response:
        package = package_get(package_id=package_id)
        params = request.query_params
        presigns = presign_list(
            package_ids=[package.id],
            created_by=query_list(params, "createdBy"),
            created_after=query_datetime(params, "createdAfter"),
            created_before=query_datetime(params, "createdBefore"),
        )
        return self.pagination_class.response(
            queryset=presigns, serializer_class=self.OutputSerializer, request=request, view=self
        )
