"""Push API: start a push, list and read push jobs, abort, and read or search the ledger.

One view per operation. A push job as every push endpoint returns it is
`PushDetailApi.OutputSerializer` (component `PushJob`); a ledger row is
`PushFileListApi.OutputSerializer` (component `PushFile`).
"""

from __future__ import annotations

import re
from typing import Any

from data_sharing_formats.identifiers import IDENTIFIER_RE
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from datasharing.api import ApiView, StrictSerializer
from datasharing.auth import request_user
from datasharing.pagination import EnvelopePagination
from datasharing.query import query_choices, query_datetime, query_list, query_text
from datasharing.schema import DocumentedPattern, date_parameter, list_parameter, text_parameter
from packages_app.selectors import package_get
from sharing_app.destinations.destination import (
    DESTINATION_RE,
    MAX_DESTINATION_LENGTH,
    parse_destination,
)
from sharing_app.push import selectors, services
from sharing_app.push.models import PushFile, PushFileStatus, PushJob, PushStatus

SUBJECT_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]{0,254}$")


def _statuses(params: Any, allowed: list[str]) -> list[str]:
    return query_choices(params, "status", allowed)


# --- Push jobs ----------------------------------------------------------------------------------


class PushDetailApi(ApiView):
    @extend_schema_serializer(component_name="PushJob")
    class OutputSerializer(serializers.ModelSerializer):
        """A push job as every push endpoint returns it."""

        package_id = serializers.CharField(allow_null=True)
        requested_by = serializers.CharField(source="requested_by_name")
        pending_count = serializers.SerializerMethodField()

        class Meta:
            model = PushJob
            fields = [
                "id",
                "package_id",
                "package_name",
                "share_destination",
                "destination_type",
                "status",
                "step",
                "requested_by",
                "request_time",
                "start_time",
                "completion_time",
                "error_message",
                "file_count",
                "succeeded_count",
                "skipped_count",
                "failed_count",
                "pending_count",
                "total_bytes",
                "transferred_bytes",
                "icav2_project_id",
                "icav2_folder_id",
            ]

        def get_pending_count(self, job: PushJob) -> int:
            """Files not yet settled (an estimate while the job runs)."""
            return max(
                0, job.file_count - job.succeeded_count - job.skipped_count - job.failed_count
            )

    @extend_schema(operation_id="push_get", responses={200: OutputSerializer})
    def get(self, request: Request, push_job_id: str) -> Response:
        job = selectors.push_job_get(push_job_id=push_job_id)
        return Response(self.OutputSerializer(job).data)


# Start a push of a SUCCEEDED, unexpired package (curators).
class PackagePushApi(ApiView):
    class InputSerializer(StrictSerializer):
        share_destination = serializers.CharField(
            max_length=MAX_DESTINATION_LENGTH,
            validators=[DocumentedPattern(DESTINATION_RE, parse_destination)],
            help_text="s3://bucket/prefix/ or icav2://<project id or name>/<folder>/ (no "
            "control or format characters, no '.', '..' or empty segments).",
        )

    OutputSerializer = PushDetailApi.OutputSerializer

    @extend_schema(
        operation_id="package_push",
        request=InputSerializer,
        responses={
            202: OutputSerializer,
            403: OpenApiResponse(description="The destination is not allowed for you."),
            409: OpenApiResponse(
                description="The package has not SUCCEEDED, has expired, has archived files "
                "not restored, or is already being pushed to this destination."
            ),
        },
        description="Creates a push job (202). 400: malformed destination; 403: destination not "
        "allowed; 404: unknown package; 409: package not SUCCEEDED, expired, with archived files "
        "not restored, or already being pushed to this destination.",
    )
    def post(self, request: Request, package_id: str) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        package = package_get(package_id=package_id)
        job = services.push_create(
            package=package,
            destination=parse_destination(serializer.validated_data["share_destination"]),
            user=request_user(request),
        )
        return Response(self.OutputSerializer(job).data, status=status.HTTP_202_ACCEPTED)


class PushListApi(ApiView):
    OutputSerializer = PushDetailApi.OutputSerializer
    pagination_class = EnvelopePagination
    query_parameters = [
        # Not a pattern: a value that is no package id matches nothing (predecessor behaviour).
        list_parameter("packageId", "Package ids."),
        list_parameter("status", "Statuses.", choices=PushStatus.values),
        text_parameter("destination", "Destination prefix."),
        date_parameter("requestedAfter", "Requested at or after."),
        date_parameter("requestedBefore", "Requested before."),
    ]

    @extend_schema(operation_id="push_list", responses={200: OutputSerializer(many=True)})
    def get(self, request: Request) -> Response:
        params = request.query_params
        jobs = selectors.push_job_list(
            package_ids=query_list(params, "packageId"),
            statuses=_statuses(params, PushStatus.values),
            destination=query_text(params, "destination"),
            requested_after=query_datetime(params, "requestedAfter"),
            requested_before=query_datetime(params, "requestedBefore"),
        )
        return self.pagination_class.response(
            queryset=jobs, serializer_class=self.OutputSerializer, request=request, view=self
        )


class PushAbortApi(ApiView):
    OutputSerializer = PushDetailApi.OutputSerializer

    @extend_schema(
        operation_id="push_abort",
        request=None,
        responses={
            200: OutputSerializer,
            403: OpenApiResponse(description="Not the push's requester or an admin."),
            409: OpenApiResponse(description="The push has already finished."),
        },
        description="Abort a PENDING or RUNNING push (409 otherwise). Files being copied finish.",
    )
    def patch(self, request: Request, push_job_id: str) -> Response:
        job = selectors.push_job_get(push_job_id=push_job_id)
        job = services.push_abort(push_job=job, user=request_user(request))
        return Response(self.OutputSerializer(job).data)


# --- The ledger ---------------------------------------------------------------------------------


class PushFileListApi(ApiView):
    @extend_schema_serializer(component_name="PushFile")
    class OutputSerializer(serializers.ModelSerializer):
        """One ledger row: a file of one push, where it came from, where it went, how it was checked."""

        push_job_id = serializers.CharField(source="job_id")
        source_uri = serializers.CharField()
        project_ids = serializers.ListField(child=serializers.CharField(), source="project_id_list")

        class Meta:
            model = PushFile
            fields = [
                "push_job_id",
                "relative_path",
                "data_type",
                "source_uri",
                "destination_uri",
                "size",
                "source_etag",
                "source_md5",
                "destination_etag",
                "verification_method",
                "status",
                "attempts",
                "error",
                "started_at",
                "completed_at",
                "library_id",
                "subject_id",
                "external_subject_id",
                "project_ids",
            ]

    pagination_class = EnvelopePagination
    query_parameters = [list_parameter("status", "File statuses.", choices=PushFileStatus.values)]

    @extend_schema(operation_id="push_files_list", responses={200: OutputSerializer(many=True)})
    def get(self, request: Request, push_job_id: str) -> Response:
        job = selectors.push_job_get(push_job_id=push_job_id)
        files = selectors.push_file_list(
            push_job=job, statuses=_statuses(request.query_params, PushFileStatus.values)
        )
        return self.pagination_class.response(
            queryset=files, serializer_class=self.OutputSerializer, request=request, view=self
        )


class PushFileSearchApi(ApiView):
    """The ledger across every push: which files went where, about whom."""

    @extend_schema_serializer(component_name="PushFileSearch")
    class OutputSerializer(PushFileListApi.OutputSerializer):
        package_id = serializers.CharField(source="job.package_id", allow_null=True)
        package_name = serializers.CharField(source="job.package_name")
        requested_by = serializers.CharField(source="job.requested_by_name")

        class Meta(PushFileListApi.OutputSerializer.Meta):
            fields = [
                *PushFileListApi.OutputSerializer.Meta.fields,
                "package_id",
                "package_name",
                "requested_by",
            ]

    pagination_class = EnvelopePagination
    query_parameters = [
        list_parameter("libraryId", "Library ids.", pattern=IDENTIFIER_RE),
        list_parameter("subjectId", "Internal or external subject ids.", pattern=SUBJECT_ID_RE),
        list_parameter("projectId", "Project ids.", pattern=IDENTIFIER_RE),
        # Not a pattern: a value that is no package id matches nothing (predecessor behaviour).
        list_parameter("packageId", "Package ids."),
        list_parameter("status", "File statuses.", choices=PushFileStatus.values),
        text_parameter(
            "destination", "Prefix of the destination URI (or of the push's destination)."
        ),
        date_parameter("completedAfter", "Settled at or after."),
        date_parameter("completedBefore", "Settled before."),
    ]

    @extend_schema(operation_id="push_files_search", responses={200: OutputSerializer(many=True)})
    def get(self, request: Request) -> Response:
        params = request.query_params
        files = selectors.push_file_search(
            library_ids=query_list(params, "libraryId", pattern=IDENTIFIER_RE),
            subject_ids=query_list(params, "subjectId", pattern=SUBJECT_ID_RE),
            project_ids=query_list(params, "projectId", pattern=IDENTIFIER_RE),
            package_ids=query_list(params, "packageId"),
            statuses=_statuses(params, PushFileStatus.values),
            destination=query_text(params, "destination"),
            completed_after=query_datetime(params, "completedAfter"),
            completed_before=query_datetime(params, "completedBefore"),
        )
        return self.pagination_class.response(
            queryset=files, serializer_class=self.OutputSerializer, request=request, view=self
        )
