"""Push API: start a push, list and read push jobs, abort, and read or search the ledger."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from datasharing.query import query_choices, query_datetime, query_list
from packages_app.selectors import package_get
from sharing_app.destinations.destination import parse_destination
from sharing_app.push import selectors, services
from sharing_app.push.models import PushFile, PushFileStatus, PushJob, PushStatus


class PushJobSerializer(serializers.ModelSerializer):
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
        return max(0, job.file_count - job.succeeded_count - job.skipped_count - job.failed_count)


class PushFileSerializer(serializers.ModelSerializer):
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


class PushFileSearchSerializer(PushFileSerializer):
    package_id = serializers.CharField(source="job.package_id", allow_null=True)
    package_name = serializers.CharField(source="job.package_name")
    requested_by = serializers.CharField(source="job.requested_by_name")

    class Meta(PushFileSerializer.Meta):
        fields = [*PushFileSerializer.Meta.fields, "package_id", "package_name", "requested_by"]


def _list_param(name: str, description: str) -> OpenApiParameter:
    return OpenApiParameter(
        name, str, many=True, description=description + " Repeat the key or comma-separate values."
    )


def _date_param(name: str, description: str) -> OpenApiParameter:
    return OpenApiParameter(
        name, str, description=description + " ISO 8601 date or date-time (UTC)."
    )


class PackagePushApi(APIView):
    """Start a push of a SUCCEEDED, unexpired package (curators)."""

    class InputSerializer(serializers.Serializer):
        share_destination = serializers.CharField(
            max_length=2048,
            help_text="s3://bucket/prefix/ or icav2://<project id or name>/<folder>/",
        )

    @extend_schema(
        operation_id="package_push",
        request=InputSerializer,
        responses={202: PushJobSerializer},
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
            user=request.user,
        )
        return Response(PushJobSerializer(job).data, status=status.HTTP_202_ACCEPTED)


class PushListApi(generics.ListAPIView):
    serializer_class = PushJobSerializer

    @extend_schema(
        operation_id="push_list",
        parameters=[
            _list_param("packageId", "Package ids."),
            _list_param("status", f"Statuses ({', '.join(PushStatus.values)})."),
            OpenApiParameter("destination", str, description="Destination prefix."),
            _date_param("requestedAfter", "Requested at or after."),
            _date_param("requestedBefore", "Requested before."),
        ],
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> QuerySet[PushJob]:
        params = self.request.query_params
        return selectors.push_job_list(
            package_ids=query_list(params, "packageId"),
            statuses=_statuses(params, PushStatus.values),
            destination=params.get("destination", ""),
            requested_after=query_datetime(params, "requestedAfter"),
            requested_before=query_datetime(params, "requestedBefore"),
        )


class PushDetailApi(APIView):
    @extend_schema(operation_id="push_get", responses={200: PushJobSerializer})
    def get(self, request: Request, push_job_id: str) -> Response:
        job = selectors.push_job_get(push_job_id=push_job_id)
        return Response(PushJobSerializer(job).data)


class PushAbortApi(APIView):
    @extend_schema(
        operation_id="push_abort",
        request=None,
        responses={200: PushJobSerializer},
        description="Abort a PENDING or RUNNING push (409 otherwise). Files being copied finish.",
    )
    def patch(self, request: Request, push_job_id: str) -> Response:
        job = selectors.push_job_get(push_job_id=push_job_id)
        job = services.push_abort(push_job=job, user=request.user)
        return Response(PushJobSerializer(job).data)


class PushFileListApi(generics.ListAPIView):
    serializer_class = PushFileSerializer

    @extend_schema(
        operation_id="push_files_list",
        parameters=[_list_param("status", f"File statuses ({', '.join(PushFileStatus.values)}).")],
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> QuerySet[PushFile]:
        job = selectors.push_job_get(push_job_id=self.kwargs["push_job_id"])
        return selectors.push_file_list(
            push_job=job, statuses=_statuses(self.request.query_params, PushFileStatus.values)
        )


class PushFileSearchApi(generics.ListAPIView):
    """The ledger across every push: which files went where, about whom."""

    serializer_class = PushFileSearchSerializer

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
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> QuerySet[PushFile]:
        params = self.request.query_params
        return selectors.push_file_search(
            library_ids=query_list(params, "libraryId"),
            subject_ids=query_list(params, "subjectId"),
            project_ids=query_list(params, "projectId"),
            package_ids=query_list(params, "packageId"),
            statuses=_statuses(params, PushFileStatus.values),
            destination=params.get("destination", ""),
            completed_after=query_datetime(params, "completedAfter"),
            completed_before=query_datetime(params, "completedBefore"),
        )


def _statuses(params: Any, allowed: list[str]) -> list[str]:
    return query_choices(params, "status", allowed)
