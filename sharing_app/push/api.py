"""Push API: start a push, list and read push jobs, abort, and read or search the ledger.

One view per operation. A push job as every push endpoint returns it is
`PushDetailApi.OutputSerializer` (component `PushJob`); a ledger row is
`PushFileListApi.OutputSerializer` (component `PushFile`).
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

from datasharing.auth import request_user
from datasharing.pagination import EnvelopePagination
from datasharing.query import query_choices, query_datetime, query_list
from packages_app.selectors import package_get
from sharing_app.destinations.destination import parse_destination
from sharing_app.push import selectors, services
from sharing_app.push.models import PushFile, PushFileStatus, PushJob, PushStatus


def _list_param(name: str, description: str) -> OpenApiParameter:
    return OpenApiParameter(
        name, str, many=True, description=description + " Repeat the key or comma-separate values."
    )


def _date_param(name: str, description: str) -> OpenApiParameter:
    return OpenApiParameter(
        name, str, description=description + " ISO 8601 date or date-time (UTC)."
    )


def _statuses(params: Any, allowed: list[str]) -> list[str]:
    return query_choices(params, "status", allowed)


# --- Push jobs ----------------------------------------------------------------------------------


class PushDetailApi(APIView):
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
class PackagePushApi(APIView):
    class InputSerializer(serializers.Serializer):
        share_destination = serializers.CharField(
            max_length=2048,
            help_text="s3://bucket/prefix/ or icav2://<project id or name>/<folder>/",
        )

    OutputSerializer = PushDetailApi.OutputSerializer

    @extend_schema(
        operation_id="package_push",
        request=InputSerializer,
        responses={202: OutputSerializer},
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


class PushListApi(APIView):
    OutputSerializer = PushDetailApi.OutputSerializer
    pagination_class = EnvelopePagination

    @extend_schema(
        operation_id="push_list",
        parameters=[
            _list_param("packageId", "Package ids."),
            _list_param("status", f"Statuses ({', '.join(PushStatus.values)})."),
            OpenApiParameter("destination", str, description="Destination prefix."),
            _date_param("requestedAfter", "Requested at or after."),
            _date_param("requestedBefore", "Requested before."),
        ],
        responses={200: OutputSerializer(many=True)},
    )
    def get(self, request: Request) -> Response:
        params = request.query_params
        jobs = selectors.push_job_list(
            package_ids=query_list(params, "packageId"),
            statuses=_statuses(params, PushStatus.values),
            destination=params.get("destination", ""),
            requested_after=query_datetime(params, "requestedAfter"),
            requested_before=query_datetime(params, "requestedBefore"),
        )
        return self.pagination_class.response(
            queryset=jobs, serializer_class=self.OutputSerializer, request=request, view=self
        )


class PushAbortApi(APIView):
    OutputSerializer = PushDetailApi.OutputSerializer

    @extend_schema(
        operation_id="push_abort",
        request=None,
        responses={
            200: OutputSerializer,
            403: OpenApiResponse(description="Not the push's requester or an admin."),
        },
        description="Abort a PENDING or RUNNING push (409 otherwise). Files being copied finish.",
    )
    def patch(self, request: Request, push_job_id: str) -> Response:
        job = selectors.push_job_get(push_job_id=push_job_id)
        job = services.push_abort(push_job=job, user=request_user(request))
        return Response(self.OutputSerializer(job).data)


# --- The ledger ---------------------------------------------------------------------------------


class PushFileListApi(APIView):
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

    @extend_schema(
        operation_id="push_files_list",
        parameters=[_list_param("status", f"File statuses ({', '.join(PushFileStatus.values)}).")],
        responses={200: OutputSerializer(many=True)},
    )
    def get(self, request: Request, push_job_id: str) -> Response:
        job = selectors.push_job_get(push_job_id=push_job_id)
        files = selectors.push_file_list(
            push_job=job, statuses=_statuses(request.query_params, PushFileStatus.values)
        )
        return self.pagination_class.response(
            queryset=files, serializer_class=self.OutputSerializer, request=request, view=self
        )


class PushFileSearchApi(APIView):
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

    @extend_schema(
        operation_id="push_files_search",
        parameters=[
            _list_param("libraryId", "Library ids."),
            _list_param("subjectId", "Internal or external subject ids."),
            _list_param("projectId", "Project ids."),
            _list_param("packageId", "Package ids."),
            _list_param("status", f"File statuses ({', '.join(PushFileStatus.values)})."),
            OpenApiParameter(
                "destination",
                str,
                description="Prefix of the destination URI (or of the push's destination).",
            ),
            _date_param("completedAfter", "Settled at or after."),
            _date_param("completedBefore", "Settled before."),
        ],
        responses={200: OutputSerializer(many=True)},
    )
    def get(self, request: Request) -> Response:
        params = request.query_params
        files = selectors.push_file_search(
            library_ids=query_list(params, "libraryId"),
            subject_ids=query_list(params, "subjectId"),
            project_ids=query_list(params, "projectId"),
            package_ids=query_list(params, "packageId"),
            statuses=_statuses(params, PushFileStatus.values),
            destination=params.get("destination", ""),
            completed_after=query_datetime(params, "completedAfter"),
            completed_before=query_datetime(params, "completedBefore"),
        )
        return self.pagination_class.response(
            queryset=files, serializer_class=self.OutputSerializer, request=request, view=self
        )
