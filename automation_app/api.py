"""Automatic sharing API: rules (viewers read, curators write), and read-only lists of the shares
the rules made and of the events received."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from automation_app import rules, selectors
from automation_app.events.models import EventStatus, ReceivedEvent
from automation_app.models import AutoShare, AutoShareRule, AutoShareStatus
from datasharing.errors import DomainError
from datasharing.query import query_bool, query_choices, query_list
from datasharing.schema import list_parameter


class RuleSerializer(serializers.ModelSerializer):
    """An auto-share rule (the predecessor's job fields, plus approval and notification targets)."""

    project_id_list = serializers.ListField(child=serializers.CharField(), source="project_ids")
    data_type_list = serializers.ListField(child=serializers.CharField(), source="data_types")
    secondary_analysis_type_list = serializers.ListField(
        child=serializers.CharField(), source="secondary_analysis_types"
    )
    notify_emails = serializers.ListField(child=serializers.CharField())
    slack_approvers = serializers.ListField(child=serializers.CharField())
    created_by = serializers.CharField(source="created_by.username", allow_null=True, default=None)
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


class RuleInputSerializer(serializers.Serializer):
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


def _rule_values(request: Request) -> dict[str, Any]:
    """The body as given: the rules service validates every field and refuses unknown ones."""
    if not isinstance(request.data, dict):
        raise DomainError("The request body must be a JSON object.")
    return dict(request.data)


class RuleListApi(generics.ListAPIView):
    serializer_class = RuleSerializer

    @extend_schema(
        operation_id="auto_share_rule_list",
        parameters=[
            list_parameter("jobName", "Job names."),
            OpenApiParameter("enabled", bool, description="Only enabled (true) or disabled rules."),
        ],
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> QuerySet[AutoShareRule]:
        params = self.request.query_params
        return selectors.auto_share_rule_list(
            job_names=query_list(params, "jobName"), enabled=query_bool(params, "enabled")
        )

    @extend_schema(
        operation_id="auto_share_rule_create",
        request=RuleInputSerializer,
        responses={201: RuleSerializer},
        description="Create a rule (curators). 400: invalid or missing fields, a jobName in use; "
        "403: the destination is not allowed for you.",
    )
    def post(self, request: Request) -> Response:
        rule = rules.auto_share_rule_create(values=_rule_values(request), user=request.user)
        rule = selectors.auto_share_rule_get(rule_id=rule.pk)
        return Response(RuleSerializer(rule).data, status=status.HTTP_201_CREATED)


class RuleDetailApi(APIView):
    @extend_schema(operation_id="auto_share_rule_get", responses={200: RuleSerializer})
    def get(self, request: Request, rule_id: int) -> Response:
        return Response(RuleSerializer(selectors.auto_share_rule_get(rule_id=rule_id)).data)

    @extend_schema(
        operation_id="auto_share_rule_update",
        request=RuleInputSerializer,
        responses={200: RuleSerializer},
        description="Change the given fields (curators). Shares already made keep their "
        "destination. 400: invalid fields; 403: the new destination is not allowed for you.",
    )
    def patch(self, request: Request, rule_id: int) -> Response:
        rule = selectors.auto_share_rule_get(rule_id=rule_id)
        rules.auto_share_rule_update(rule=rule, values=_rule_values(request), user=request.user)
        return Response(RuleSerializer(selectors.auto_share_rule_get(rule_id=rule_id)).data)

    @extend_schema(
        operation_id="auto_share_rule_delete",
        request=None,
        responses={204: None},
        description="Delete a rule that has made no shares (409 otherwise: disable it instead).",
    )
    def delete(self, request: Request, rule_id: int) -> Response:
        rule = selectors.auto_share_rule_get(rule_id=rule_id)
        rules.auto_share_rule_delete(rule=rule, user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ShareSerializer(serializers.ModelSerializer):
    """What one rule did for one instrument run."""

    rule_id = serializers.IntegerField()
    job_name = serializers.CharField(source="rule.job_name")
    instrument_run_id = serializers.CharField(source="run.instrument_run_id")
    package_id = serializers.CharField(allow_null=True)
    package_status = serializers.CharField(source="package.status", allow_null=True, default=None)
    push_job_id = serializers.CharField(allow_null=True)
    push_status = serializers.CharField(source="push_job.status", allow_null=True, default=None)
    decided_by = serializers.CharField(source="decided_by.username", allow_null=True, default=None)

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


class ShareListApi(generics.ListAPIView):
    serializer_class = ShareSerializer

    @extend_schema(
        operation_id="auto_share_list",
        parameters=[
            list_parameter("rule", "Rule ids or job names."),
            list_parameter("status", f"Statuses ({', '.join(AutoShareStatus.values)})."),
            list_parameter("run", "Instrument run ids."),
        ],
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> QuerySet[AutoShare]:
        params = self.request.query_params
        return selectors.auto_share_list(
            rules=query_list(params, "rule"),
            statuses=query_choices(params, "status", AutoShareStatus.values),
            instrument_run_ids=query_list(params, "run"),
        )


class ShareDetailApi(APIView):
    @extend_schema(operation_id="auto_share_get", responses={200: ShareSerializer})
    def get(self, request: Request, share_id: str) -> Response:
        return Response(ShareSerializer(selectors.auto_share_get(share_id=share_id)).data)


class EventSerializer(serializers.ModelSerializer):
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


class EventListApi(generics.ListAPIView):
    serializer_class = EventSerializer

    @extend_schema(
        operation_id="auto_share_event_list",
        parameters=[
            list_parameter("status", f"Statuses ({', '.join(EventStatus.values)})."),
            list_parameter("detailType", "Detail types (ReadSetsAdded, FastqListRowsAdded, ...)."),
        ],
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> QuerySet[ReceivedEvent]:
        params = self.request.query_params
        return selectors.received_event_list(
            statuses=query_choices(params, "status", EventStatus.values),
            detail_types=query_list(params, "detailType"),
        )
