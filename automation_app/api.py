"""Automatic sharing API: rules (viewers read, curators write, their creator or an admin change
them), and read-only lists of the shares the rules made and of the events received.

One view per operation (`GET|POST rules` and `GET|PATCH|DELETE rules/{id}` are joined in
urls.py). A rule as every rule endpoint returns it is `RuleDetailApi.OutputSerializer` (component
`Rule`). Rules are validated by the rules service, which names every problem and refuses unknown
fields, and validates the job files of `import_auto_jobs` the same way: the input serializers
document the body (components `RuleInput`, `PatchedRuleInput`) and the views hand the body over
as given.
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

from automation_app import rules, selectors
from automation_app.events.models import EventStatus, ReceivedEvent
from automation_app.models import AutoShare, AutoShareRule, AutoShareStatus
from datasharing.auth import request_user
from datasharing.errors import DomainError
from datasharing.pagination import EnvelopePagination
from datasharing.query import query_bool, query_choices, query_list
from datasharing.schema import list_parameter


def _rule_values(request: Request) -> dict[str, Any]:
    """The body as given: the rules service validates every field and refuses unknown ones."""
    if not isinstance(request.data, dict):
        raise DomainError("The request body must be a JSON object.")
    return dict(request.data)


# --- Rules --------------------------------------------------------------------------------------


class RuleDetailApi(APIView):
    @extend_schema_serializer(component_name="Rule")
    class OutputSerializer(serializers.ModelSerializer):
        """An auto-share rule (the predecessor's job fields, plus approval and notification targets)."""

        project_id_list = serializers.ListField(child=serializers.CharField(), source="project_ids")
        data_type_list = serializers.ListField(child=serializers.CharField(), source="data_types")
        secondary_analysis_type_list = serializers.ListField(
            child=serializers.CharField(), source="secondary_analysis_types"
        )
        notify_emails = serializers.ListField(child=serializers.CharField())
        slack_approvers = serializers.ListField(child=serializers.CharField())
        created_by = serializers.CharField(
            source="created_by.username", allow_null=True, default=None
        )
        share_count = serializers.IntegerField(default=0)

        class Meta:
            model = AutoShareRule
            fields = [
                "id",
                "job_name",
                "enabled",
                "project_id_list",
                "data_type_list",
                "secondary_analysis_type_list",
                "share_destination",
                "require_approval",
                "slack_channel",
                "notify_emails",
                "slack_approvers",
                "created_by",
                "created_at",
                "updated_at",
                "share_count",
            ]

    @extend_schema(operation_id="auto_share_rule_get", responses={200: OutputSerializer})
    def get(self, request: Request, rule_id: int) -> Response:
        rule = selectors.auto_share_rule_get(rule_id=rule_id)
        return Response(self.OutputSerializer(rule).data)


class RuleListApi(APIView):
    OutputSerializer = RuleDetailApi.OutputSerializer
    pagination_class = EnvelopePagination

    @extend_schema(
        operation_id="auto_share_rule_list",
        parameters=[
            list_parameter("jobName", "Job names."),
            OpenApiParameter("enabled", bool, description="Only enabled (true) or disabled rules."),
        ],
        responses={200: OutputSerializer(many=True)},
    )
    def get(self, request: Request) -> Response:
        params = request.query_params
        rule_list = selectors.auto_share_rule_list(
            job_names=query_list(params, "jobName"), enabled=query_bool(params, "enabled")
        )
        return self.pagination_class.response(
            queryset=rule_list, serializer_class=self.OutputSerializer, request=request, view=self
        )


class RuleCreateApi(APIView):
    @extend_schema_serializer(component_name="RuleInput")
    class InputSerializer(serializers.Serializer):
        """A rule as written (create: `jobName`, `projectIdList`, `dataTypeList` and
        `shareDestination` required; PATCH: any subset). Unknown fields are refused."""

        job_name = serializers.CharField(required=False)
        enabled = serializers.BooleanField(required=False, default=True)
        project_id_list = serializers.ListField(child=serializers.CharField(), required=False)
        data_type_list = serializers.ListField(
            child=serializers.ChoiceField(choices=["fastq", "secondaryAnalysis"]), required=False
        )
        secondary_analysis_type_list = serializers.ListField(
            child=serializers.CharField(), required=False
        )
        share_destination = serializers.CharField(required=False)
        require_approval = serializers.BooleanField(required=False, default=True)
        slack_channel = serializers.CharField(required=False, allow_blank=True)
        notify_emails = serializers.ListField(child=serializers.EmailField(), required=False)
        slack_approvers = serializers.ListField(child=serializers.CharField(), required=False)

    OutputSerializer = RuleDetailApi.OutputSerializer

    @extend_schema(
        operation_id="auto_share_rule_create",
        request=InputSerializer,
        responses={201: OutputSerializer},
        description="Create a rule (curators). 400: invalid or missing fields, a jobName in use; "
        "403: the destination is not allowed for you.",
    )
    def post(self, request: Request) -> Response:
        rule = rules.auto_share_rule_create(
            values=_rule_values(request), user=request_user(request)
        )
        rule = selectors.auto_share_rule_get(rule_id=rule.pk)  # with its share count
        return Response(self.OutputSerializer(rule).data, status=status.HTTP_201_CREATED)


class RuleUpdateApi(APIView):
    InputSerializer = RuleCreateApi.InputSerializer
    OutputSerializer = RuleDetailApi.OutputSerializer

    @extend_schema(
        operation_id="auto_share_rule_update",
        request=InputSerializer,
        responses={
            200: OutputSerializer,
            403: OpenApiResponse(
                description="Not the rule's creator or an admin, or you may not push to the "
                "rule's destination (every change needs that right)."
            ),
        },
        description="Change the given fields (the rule's creator or an admin). Shares already "
        "made keep their destination. 400: invalid fields; 403: not yours, or the destination "
        "is not allowed for you.",
    )
    def patch(self, request: Request, rule_id: int) -> Response:
        rule = selectors.auto_share_rule_get(rule_id=rule_id)
        rules.auto_share_rule_update(
            rule=rule, values=_rule_values(request), user=request_user(request)
        )
        rule = selectors.auto_share_rule_get(rule_id=rule_id)  # with its share count
        return Response(self.OutputSerializer(rule).data)


class RuleDeleteApi(APIView):
    @extend_schema(
        operation_id="auto_share_rule_delete",
        request=None,
        responses={
            204: None,
            403: OpenApiResponse(description="Not the rule's creator or an admin."),
        },
        description="Delete a rule that has made no shares (409 otherwise: disable it instead).",
    )
    def delete(self, request: Request, rule_id: int) -> Response:
        rule = selectors.auto_share_rule_get(rule_id=rule_id)
        rules.auto_share_rule_delete(rule=rule, user=request_user(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- Shares and events --------------------------------------------------------------------------


class ShareDetailApi(APIView):
    @extend_schema_serializer(component_name="Share")
    class OutputSerializer(serializers.ModelSerializer):
        """What one rule did for one instrument run."""

        rule_id = serializers.IntegerField()
        job_name = serializers.CharField(source="rule.job_name")
        instrument_run_id = serializers.CharField(source="run.instrument_run_id")
        package_id = serializers.CharField(allow_null=True)
        package_status = serializers.CharField(
            source="package.status", allow_null=True, default=None
        )
        push_job_id = serializers.CharField(allow_null=True)
        push_status = serializers.CharField(source="push_job.status", allow_null=True, default=None)
        decided_by = serializers.CharField(
            source="decided_by.username", allow_null=True, default=None
        )

        class Meta:
            model = AutoShare
            fields = [
                "id",
                "rule_id",
                "job_name",
                "instrument_run_id",
                "status",
                "trigger",
                "package_id",
                "package_status",
                "push_job_id",
                "push_status",
                "share_destination",
                "decided_by",
                "decided_by_slack_user",
                "decided_via",
                "decided_at",
                "error",
                "created_at",
                "updated_at",
            ]

    @extend_schema(operation_id="auto_share_get", responses={200: OutputSerializer})
    def get(self, request: Request, share_id: str) -> Response:
        share = selectors.auto_share_get(share_id=share_id)
        return Response(self.OutputSerializer(share).data)


class ShareListApi(APIView):
    OutputSerializer = ShareDetailApi.OutputSerializer
    pagination_class = EnvelopePagination

    @extend_schema(
        operation_id="auto_share_list",
        parameters=[
            list_parameter("rule", "Rule ids or job names."),
            list_parameter("status", f"Statuses ({', '.join(AutoShareStatus.values)})."),
            list_parameter("run", "Instrument run ids."),
        ],
        responses={200: OutputSerializer(many=True)},
    )
    def get(self, request: Request) -> Response:
        params = request.query_params
        shares = selectors.auto_share_list(
            rules=query_list(params, "rule"),
            statuses=query_choices(params, "status", AutoShareStatus.values),
            instrument_run_ids=query_list(params, "run"),
        )
        return self.pagination_class.response(
            queryset=shares, serializer_class=self.OutputSerializer, request=request, view=self
        )


class EventListApi(APIView):
    @extend_schema_serializer(component_name="Event")
    class OutputSerializer(serializers.ModelSerializer):
        """A message taken from the events queue and what became of it."""

        outcome = serializers.JSONField()

        class Meta:
            model = ReceivedEvent
            fields = [
                "id",
                "event_id",
                "message_id",
                "detail_type",
                "source",
                "status",
                "error",
                "outcome",
                "body",
                "received_at",
            ]

    pagination_class = EnvelopePagination

    @extend_schema(
        operation_id="auto_share_event_list",
        parameters=[
            list_parameter("status", f"Statuses ({', '.join(EventStatus.values)})."),
            list_parameter("detailType", "Detail types (ReadSetsAdded, FastqListRowsAdded, ...)."),
        ],
        responses={200: OutputSerializer(many=True)},
    )
    def get(self, request: Request) -> Response:
        params = request.query_params
        events = selectors.received_event_list(
            statuses=query_choices(params, "status", EventStatus.values),
            detail_types=query_list(params, "detailType"),
        )
        return self.pagination_class.response(
            queryset=events, serializer_class=self.OutputSerializer, request=request, view=self
        )
