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

import re
from typing import Any

from data_sharing_formats.identifiers import PACKAGE_NAME_MAX_LENGTH
from django.conf import settings
from django.core.validators import RegexValidator
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from datasharing.api import ApiView, StrictSerializer
from datasharing.auth import VIEWER, request_user
from datasharing.pagination import EnvelopePagination
from datasharing.query import query_choices, query_datetime, query_list
from datasharing.schema import date_parameter, json_pattern, list_parameter
from packages_app import selectors, services
from packages_app.models import (
    DataType,
    Package,
    PackageAnalysis,
    PackageFile,
    PackageLibrary,
    PackageStatus,
)
from packages_app.package_request import ID_PATTERNS, NO_PREFIX, PATH_PREFIX_RE

# The patterns `package_request_parse` and `package_name_validate` check, in one regex each
# (".." refused by a lookahead; `\\w` written out: the document's readers are not ASCII-only).
PATH_PREFIX_PATTERN = json_pattern(
    f"^(?:{re.escape(NO_PREFIX)}|(?!.*\\.\\.){PATH_PREFIX_RE.pattern[1:-1]})$"
)
PACKAGE_NAME_PATTERN = json_pattern(r"^(?!.*\.\.)[A-Za-z][A-Za-z0-9_.+-]+$")
PACKAGE_NAME_FILTER_RE = re.compile(PACKAGE_NAME_PATTERN)


def _id_list(name: str, **kwargs: Any) -> serializers.ListField:
    """A list of ids as `package_request_parse` checks them (pattern, at most
    PACKAGE_REQUEST_MAX_IDS)."""
    pattern, _ = ID_PATTERNS[name]
    return serializers.ListField(
        child=serializers.CharField(validators=[RegexValidator(json_pattern(pattern))]),
        required=False,
        max_length=settings.PACKAGE_REQUEST_MAX_IDS,
        **kwargs,
    )


class PackageRequestSerializer(serializers.Serializer):
    """The request fields (documentation and output; validation is `package_request_parse`)."""

    library_id_list = _id_list("library_id_list")
    subject_id_list = _id_list("subject_id_list", help_text="Internal or external ids.")
    individual_id_list = _id_list("individual_id_list")
    project_id_list = _id_list("project_id_list")
    instrument_run_id_list = _id_list(
        "instrument_run_id_list",
        help_text="Restricts the libraries to those with FASTQs on these runs; alone, selects "
        "every library on them.",
    )
    portal_run_id_list = _id_list("portal_run_id_list")
    portal_run_id_exclusion_list = _id_list("portal_run_id_exclusion_list")
    data_type_list = serializers.ListField(
        child=serializers.ChoiceField(choices=DataType.values), min_length=1
    )
    secondary_analysis_type_list = _id_list(
        "secondary_analysis_type_list", help_text="Workflow names."
    )
    defrost_archived_fastqs = serializers.BooleanField(required=False, default=False)
    use_workflow_filters = serializers.BooleanField(required=False, default=True)
    primary_data_path_prefix = serializers.CharField(
        required=False,
        default="fastq",
        validators=[RegexValidator(PATH_PREFIX_PATTERN)],
        help_text="`fastq`, `primary`, another folder name or `/`.",
    )
    secondary_analysis_path_prefix = serializers.CharField(
        required=False,
        default="secondary-analysis",
        validators=[RegexValidator(PATH_PREFIX_PATTERN)],
        help_text="`secondary-analysis`, `analysis`, another folder name or `/`.",
    )


# --- Packages -----------------------------------------------------------------------------------


class PackageDetailApi(ApiView):
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


class PackageListApi(ApiView):
    OutputSerializer = PackageDetailApi.OutputSerializer
    pagination_class = EnvelopePagination
    query_parameters = [
        list_parameter("packageName", "Package names.", pattern=PACKAGE_NAME_FILTER_RE),
        list_parameter(
            "packageName[]",
            "Package names (the predecessor's key).",
            pattern=PACKAGE_NAME_FILTER_RE,
        ),
        list_parameter("status", "Statuses.", enum=PackageStatus.values),
        list_parameter("status[]", "Statuses (the predecessor's key).", enum=PackageStatus.values),
        date_parameter("requestAfter", "Requested at or after."),
        date_parameter("requestBefore", "Requested before."),
        date_parameter("completedAfter", "Completed at or after."),
        date_parameter("completedBefore", "Completed before."),
    ]

    @extend_schema(operation_id="package_list", responses={200: OutputSerializer(many=True)})
    def get(self, request: Request) -> Response:
        params = request.query_params
        package_names = [
            *query_list(params, "packageName", pattern=PACKAGE_NAME_FILTER_RE),
            *query_list(params, "packageName[]", pattern=PACKAGE_NAME_FILTER_RE),
        ]
        packages = selectors.package_list(
            package_names=package_names,
            statuses=[
                *query_choices(params, "status", PackageStatus.values, case_sensitive=True),
                *query_choices(params, "status[]", PackageStatus.values, case_sensitive=True),
            ],
            requested_after=query_datetime(params, "requestAfter"),
            requested_before=query_datetime(params, "requestBefore"),
            completed_after=query_datetime(params, "completedAfter"),
            completed_before=query_datetime(params, "completedBefore"),
        )
        return self.pagination_class.response(
            queryset=packages, serializer_class=self.OutputSerializer, request=request, view=self
        )


class PackageCreateApi(ApiView):
    class InputSerializer(StrictSerializer):
        # Free-form here: the service validates and names every problem (unknown fields included).
        package_name = serializers.JSONField(required=False)
        package_request = serializers.JSONField(required=False)

    @extend_schema_serializer(component_name="PackageCreate")
    class RequestSerializer(serializers.Serializer):
        # The request as documented (the OpenAPI request body); never used to validate.
        package_name = serializers.CharField(
            max_length=PACKAGE_NAME_MAX_LENGTH,
            validators=[RegexValidator(PACKAGE_NAME_PATTERN)],
            help_text="A letter, then letters, digits, '_', '.', '+', '-' (no '..').",
        )
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


class PackageDryRunApi(ApiView):
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


class PackageDeleteApi(ApiView):
    @extend_schema(
        operation_id="package_delete",
        responses={
            204: OpenApiResponse(description="Deleted, with its artifacts."),
            409: OpenApiResponse(
                description="The package is still being built, or push jobs refer to it."
            ),
        },
    )
    def delete(self, request: Request, package_id: str) -> Response:
        package = selectors.package_get(package_id=package_id)
        services.package_delete(package=package, user=request_user(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class PackageAbortApi(ApiView):
    OutputSerializer = PackageDetailApi.OutputSerializer

    @extend_schema(
        operation_id="package_abort",
        request=None,
        responses={
            200: OutputSerializer,
            403: OpenApiResponse(description="Not the package's requester or an admin."),
            409: OpenApiResponse(description="The package has already finished."),
        },
    )
    def patch(self, request: Request, package_id: str) -> Response:
        package = selectors.package_get(package_id=package_id)
        package = services.package_abort(package=package, user=request_user(request))
        return Response(self.OutputSerializer(package).data)


# --- Contents -----------------------------------------------------------------------------------


class PackageLibraryListApi(ApiView):
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


class PackageFileListApi(ApiView):
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
    query_parameters = [list_parameter("dataType", "Data types.", enum=DataType.values)]

    @extend_schema(operation_id="package_files_list", responses={200: OutputSerializer(many=True)})
    def get(self, request: Request, package_id: str) -> Response:
        package = selectors.package_get(package_id=package_id)
        files = selectors.package_files_list(
            package=package,
            data_types=query_choices(
                request.query_params, "dataType", DataType.values, case_sensitive=True
            ),
        )
        return self.pagination_class.response(
            queryset=files, serializer_class=self.OutputSerializer, request=request, view=self
        )


class PackageFastqListApi(ApiView):
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


class PackageAnalysisListApi(ApiView):
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
