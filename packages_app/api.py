"""Package REST API (SPEC §5), predecessor-compatible paths under /api/v1/.

Viewers read; curators create, abort and delete (delete: their own packages); admins everything.
The dry run (`POST /api/v1/package:dryRun`) is a read: viewers may use it.

One view per operation (`GET|POST package/` and `GET|DELETE package/{id}` are joined in urls.py).
A package as every endpoint returns it is `PackageDetailApi.OutputSerializer` (component
`Package`). Requests are validated by the services (`package_request_parse` names every problem,
unknown fields included): the input serializers only take the two top-level fields, and the
documented request shape is `PackageCreateApi.RequestSerializer`.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_serializer,
)
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from datasharing.auth import VIEWER, request_user
from datasharing.pagination import EnvelopePagination
from datasharing.query import query_datetime, query_list
from packages_app import selectors, services
from packages_app.models import Package, PackageAnalysis, PackageFile, PackageLibrary, PackageStatus


class PackageRequestSerializer(serializers.Serializer):
    """The request fields (documentation and output; validation is `package_request_parse`)."""

    library_id_list = serializers.ListField(child=serializers.CharField(), required=False)
    subject_id_list = serializers.ListField(
        child=serializers.CharField(), required=False, help_text="Internal or external ids."
    )
    individual_id_list = serializers.ListField(child=serializers.CharField(), required=False)
    project_id_list = serializers.ListField(child=serializers.CharField(), required=False)
    instrument_run_id_list = serializers.ListField(
        child=serializers.CharField(),
        required=False,
        help_text="Restricts the libraries to those with FASTQs on these runs; alone, selects "
        "every library on them.",
    )
    portal_run_id_list = serializers.ListField(child=serializers.CharField(), required=False)
    portal_run_id_exclusion_list = serializers.ListField(
        child=serializers.CharField(), required=False
    )
    data_type_list = serializers.ListField(
        child=serializers.ChoiceField(choices=["fastq", "secondaryAnalysis"])
    )
    secondary_analysis_type_list = serializers.ListField(
        child=serializers.CharField(), required=False, help_text="Workflow names."
    )
    defrost_archived_fastqs = serializers.BooleanField(required=False, default=False)
    use_workflow_filters = serializers.BooleanField(required=False, default=True)
    primary_data_path_prefix = serializers.CharField(
        required=False, default="fastq", help_text="`fastq`, `primary`, another folder name or `/`."
    )
    secondary_analysis_path_prefix = serializers.CharField(
        required=False,
        default="secondary-analysis",
        help_text="`secondary-analysis`, `analysis`, another folder name or `/`.",
    )


def _list_param(name: str, description: str, **kwargs: Any) -> OpenApiParameter:
    return OpenApiParameter(
        name,
        str,
        many=True,
        description=description + " Repeat the key or separate values with commas.",
        **kwargs,
    )


# --- Packages -----------------------------------------------------------------------------------


class PackageDetailApi(APIView):
    @extend_schema_serializer(component_name="Package")
    class OutputSerializer(serializers.ModelSerializer):
        package_request = PackageRequestSerializer(source="request")
        requested_by = serializers.CharField(
            source="requested_by.username", default=None, allow_null=True
        )
        has_expired = serializers.BooleanField()

        class Meta:
            model = Package
            fields = [
                "id",
                "package_name",
                "status",
                "step",
                "request_time",
                "start_time",
                "completion_time",
                "expires_at",
                "has_expired",
                "error_message",
                "requested_by",
                "package_request",
                "library_count",
                "fastq_count",
                "workflow_run_count",
                "file_count",
                "total_bytes",
                "archived_file_count",
            ]

    @extend_schema(operation_id="package_get", responses={200: OutputSerializer})
    def get(self, request: Request, package_id: str) -> Response:
        package = selectors.package_get(package_id=package_id)
        return Response(self.OutputSerializer(package).data)


class PackageListApi(APIView):
    OutputSerializer = PackageDetailApi.OutputSerializer
    pagination_class = EnvelopePagination

    @extend_schema(
        operation_id="package_list",
        parameters=[
            _list_param("packageName", "Package names (also `packageName[]`)."),
            _list_param(
                "status",
                "Statuses (also `status[]`).",
                enum=PackageStatus.values,
            ),
            OpenApiParameter("requestAfter", str, description="ISO 8601 date or date-time."),
            OpenApiParameter("requestBefore", str, description="ISO 8601 date or date-time."),
            OpenApiParameter("completedAfter", str, description="ISO 8601 date or date-time."),
            OpenApiParameter("completedBefore", str, description="ISO 8601 date or date-time."),
        ],
        responses={200: OutputSerializer(many=True)},
    )
    def get(self, request: Request) -> Response:
        params = request.query_params
        packages = selectors.package_list(
            package_names=query_list(params, "packageName") + query_list(params, "packageName[]"),
            statuses=query_list(params, "status") + query_list(params, "status[]"),
            requested_after=query_datetime(params, "requestAfter"),
            requested_before=query_datetime(params, "requestBefore"),
            completed_after=query_datetime(params, "completedAfter"),
            completed_before=query_datetime(params, "completedBefore"),
        )
        return self.pagination_class.response(
            queryset=packages, serializer_class=self.OutputSerializer, request=request, view=self
        )


class PackageCreateApi(APIView):
    class InputSerializer(serializers.Serializer):
        # Free-form here: the service validates and names every problem (unknown fields included).
        package_name = serializers.JSONField(required=False)
        package_request = serializers.JSONField(required=False)

    @extend_schema_serializer(component_name="PackageCreate")
    class RequestSerializer(serializers.Serializer):
        # The request as documented (the OpenAPI request body); never used to validate.
        package_name = serializers.CharField(help_text="`^[A-Za-z][\\w.+-]+$`")
        package_request = PackageRequestSerializer()

    OutputSerializer = PackageDetailApi.OutputSerializer

    @extend_schema(
        operation_id="package_create",
        request=RequestSerializer,
        responses={201: OutputSerializer},
    )
    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        package = services.package_create(
            package_name=serializer.validated_data.get("package_name"),
            package_request=serializer.validated_data.get("package_request"),
            user=request_user(request),
        )
        return Response(self.OutputSerializer(package).data, status=status.HTTP_201_CREATED)


class PackageDryRunApi(APIView):
    required_role = VIEWER

    InputSerializer = PackageCreateApi.InputSerializer

    class OutputSerializer(serializers.Serializer):
        package_name = serializers.CharField()
        package_request = PackageRequestSerializer()
        library_count = serializers.IntegerField()
        fastq_count = serializers.IntegerField()
        workflow_run_count = serializers.IntegerField()
        file_count = serializers.IntegerField()
        total_bytes = serializers.IntegerField()
        archived_file_count = serializers.IntegerField()
        archived_bytes = serializers.IntegerField()
        unrestored_file_count = serializers.IntegerField()
        by_data_type = serializers.DictField(
            child=serializers.DictField(child=serializers.IntegerField()),
            help_text="fileCount, totalBytes, archivedFileCount per data type.",
        )
        by_workflow = serializers.DictField(
            child=serializers.DictField(child=serializers.IntegerField()),
            help_text="runCount, fileCount, totalBytes per workflow name.",
        )
        output_listings_refreshed = serializers.BooleanField(
            help_text="Always false: a dry run answers from the catalog as it is, without listing "
            "the workflow runs' output prefixes (packaging lists them first, so it may find "
            "files written since)."
        )

    @extend_schema(
        operation_id="package_dry_run",
        request=PackageCreateApi.RequestSerializer,
        responses={200: OutputSerializer},
        description="Resolve a package request without creating anything: counts, sizes and "
        "archived files, or the 400 error creating the package would end with.",
    )
    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        answer = services.package_dry_run(
            package_name=serializer.validated_data.get("package_name"),
            package_request=serializer.validated_data.get("package_request"),
        )
        return Response(self.OutputSerializer(answer).data)


class PackageDeleteApi(APIView):
    @extend_schema(
        operation_id="package_delete",
        responses={204: OpenApiResponse(description="Deleted, with its artifacts.")},
    )
    def delete(self, request: Request, package_id: str) -> Response:
        package = selectors.package_get(package_id=package_id)
        services.package_delete(package=package, user=request_user(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class PackageAbortApi(APIView):
    OutputSerializer = PackageDetailApi.OutputSerializer

    @extend_schema(
        operation_id="package_abort",
        request=None,
        responses={
            200: OutputSerializer,
            403: OpenApiResponse(description="Not the package's requester or an admin."),
        },
    )
    def patch(self, request: Request, package_id: str) -> Response:
        package = selectors.package_get(package_id=package_id)
        package = services.package_abort(package=package, user=request_user(request))
        return Response(self.OutputSerializer(package).data)


# --- Contents -----------------------------------------------------------------------------------


class PackageLibraryListApi(APIView):
    class OutputSerializer(serializers.ModelSerializer):
        metadata = serializers.DictField(help_text="LIMS metadata at packaging time.")

        class Meta:
            model = PackageLibrary
            fields = ["library_id", "metadata"]

    pagination_class = EnvelopePagination

    @extend_schema(
        operation_id="package_libraries_list", responses={200: OutputSerializer(many=True)}
    )
    def get(self, request: Request, package_id: str) -> Response:
        package = selectors.package_get(package_id=package_id)
        return self.pagination_class.response(
            queryset=selectors.package_libraries_list(package=package),
            serializer_class=self.OutputSerializer,
            request=request,
            view=self,
        )


class PackageFileListApi(APIView):
    class OutputSerializer(serializers.ModelSerializer):
        source_uri = serializers.CharField()
        file_name = serializers.CharField()

        class Meta:
            model = PackageFile
            fields = [
                "relative_path",
                "file_name",
                "data_type",
                "size",
                "etag",
                "md5",
                "sha256",
                "storage_class",
                "restore_state",
                "source_uri",
                "library_id",
                "instrument_run_id",
                "lane",
                "read_number",
                "portal_run_id",
                "workflow_name",
            ]

    pagination_class = EnvelopePagination

    @extend_schema(
        operation_id="package_files_list",
        parameters=[
            _list_param("dataType", "Data types (fastq, secondaryAnalysis)."),
        ],
        responses={200: OutputSerializer(many=True)},
    )
    def get(self, request: Request, package_id: str) -> Response:
        package = selectors.package_get(package_id=package_id)
        files = selectors.package_files_list(
            package=package, data_types=query_list(request.query_params, "dataType")
        )
        return self.pagination_class.response(
            queryset=files, serializer_class=self.OutputSerializer, request=request, view=self
        )


class PackageFastqListApi(APIView):
    class OutputSerializer(PackageFileListApi.OutputSerializer):
        pass

    pagination_class = EnvelopePagination

    @extend_schema(operation_id="package_fastqs_list", responses={200: OutputSerializer(many=True)})
    def get(self, request: Request, package_id: str) -> Response:
        package = selectors.package_get(package_id=package_id)
        return self.pagination_class.response(
            queryset=selectors.package_fastqs_list(package=package),
            serializer_class=self.OutputSerializer,
            request=request,
            view=self,
        )


class PackageAnalysisListApi(APIView):
    class OutputSerializer(serializers.ModelSerializer):
        class Meta:
            model = PackageAnalysis
            fields = [
                "portal_run_id",
                "workflow_name",
                "workflow_version",
                "status",
                "start_time",
                "end_time",
                "output_uri",
                "library_ids",
            ]

    pagination_class = EnvelopePagination

    @extend_schema(
        operation_id="package_analyses_list", responses={200: OutputSerializer(many=True)}
    )
    def get(self, request: Request, package_id: str) -> Response:
        package = selectors.package_get(package_id=package_id)
        return self.pagination_class.response(
            queryset=selectors.package_analyses_list(package=package),
            serializer_class=self.OutputSerializer,
            request=request,
            view=self,
        )
