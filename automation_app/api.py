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

import re
from typing import Any

from data_sharing_formats.identifiers import (
    IDENTIFIER_RE,
    INSTRUMENT_RUN_ID_RE,
    WORKFLOW_NAME_RE,
)
from django.core.validators import RegexValidator
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from automation_app import rules, selectors
from automation_app.events.models import EventStatus, ReceivedEvent
from automation_app.models import AutoShare, AutoShareRule, AutoShareStatus
from datasharing.api import ApiView
from datasharing.auth import request_user
from datasharing.errors import DomainError
from datasharing.pagination import EnvelopePagination
from datasharing.query import query_bool, query_choices, query_list
from datasharing.schema import bool_parameter, json_pattern, list_parameter
from packages_app.models import DataType
from sharing_app.destinations.destination import DESTINATION_RE, MAX_DESTINATION_LENGTH

# `?rule=`: a rule id (ASCII digits) or a job name.
RULE_REFERENCE_RE = re.compile(f"^(?:[0-9]{{1,19}}|{rules.JOB_NAME_RE.pattern[1:-1]})$")


def _pattern(regex: re.Pattern[str]) -> list[RegexValidator]:
    return [RegexValidator(json_pattern(regex))]


def _rule_values(request: Request) -> dict[str, Any]:
    """The body as given: the rules service validates every field and refuses unknown ones."""
    if not isinstance(request.data, dict):
        raise DomainError("The request body must be a JSON object.")
    return dict(request.data)


# --- Rules --------------------------------------------------------------------------------------


class RuleDetailApi(ApiView):
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


class RuleListApi(ApiView):
    OutputSerializer = RuleDetailApi.OutputSerializer
    pagination_class = EnvelopePagination
    query_parameters = [
        list_parameter("jobName", "Job names.", pattern=rules.JOB_NAME_RE),
        bool_parameter("enabled", "Only enabled (true) or disabled rules."),
    ]

    @extend_schema(
        operation_id="auto_share_rule_list", responses={200: OutputSerializer(many=True)}
    )
    def get(self, request: Request) -> Response:
        params = request.query_params
        rule_list = selectors.auto_share_rule_list(
            job_names=query_list(params, "jobName", pattern=rules.JOB_NAME_RE),
            enabled=query_bool(params, "enabled"),
        )
        return self.pagination_class.response(
            queryset=rule_list, serializer_class=self.OutputSerializer, request=request, view=self
        )


class RuleCreateApi(ApiView):
    @extend_schema_serializer(component_name="RuleInput")
    class InputSerializer(serializers.Serializer):
        """A rule as written (create: `jobName`, `projectIdList`, `dataTypeList` and
        `shareDestination` required; PATCH: any subset). Documentation only: the rules
        service validates the body, names every problem and refuses unknown fields."""

        job_name = serializers.CharField(validators=_pattern(rules.JOB_NAME_RE))
        enabled = serializers.BooleanField(required=False, default=True)
        project_id_list = serializers.ListField(
            child=serializers.CharField(validators=_pattern(IDENTIFIER_RE)),
            min_length=1,
            max_length=rules.MAX_LIST_ENTRIES,
        )
        data_type_list = serializers.ListField(
            child=serializers.ChoiceField(choices=DataType.values), min_length=1
        )
        # The optional lists and slackChannel take null for empty.
        secondary_analysis_type_list = serializers.ListField(
            child=serializers.CharField(validators=_pattern(WORKFLOW_NAME_RE)),
            required=False,
            allow_null=True,
            max_length=rules.MAX_LIST_ENTRIES,
        )
        share_destination = serializers.CharField(
            max_length=MAX_DESTINATION_LENGTH, validators=_pattern(DESTINATION_RE)
        )
        require_approval = serializers.BooleanField(required=False, default=True)
        slack_channel = serializers.CharField(
            required=False,
            allow_blank=True,
            allow_null=True,
            validators=_pattern(rules.SLACK_CHANNEL_RE),
            help_text="Slack channel id or name; empty: no Slack message.",
        )
        notify_emails = serializers.ListField(
            child=serializers.EmailField(),
            required=False,
            allow_null=True,
            max_length=rules.MAX_LIST_ENTRIES,
        )
        slack_approvers = serializers.ListField(
            child=serializers.CharField(validators=_pattern(rules.SLACK_ID_RE)),
            required=False,
            allow_null=True,
            max_length=rules.MAX_LIST_ENTRIES,
        )

    OutputSerializer = RuleDetailApi.OutputSerializer

    @extend_schema(
        operation_id="auto_share_rule_create",
        request=InputSerializer,
        responses={
            201: OutputSerializer,
            403: OpenApiResponse(description="The destination is not allowed for you."),
        },
        description="Create a rule (curators). 400: invalid or missing fields, a jobName in use; "
        "403: the destination is not allowed for you.",
    )
    def post(self, request: Request) -> Response:
        rule = rules.auto_share_rule_create(
            values=_rule_values(request), user=request_user(request)
        )
        rule = selectors.auto_share_rule_get(rule_id=rule.pk)  # with its share count
        return Response(self.OutputSerializer(rule).data, status=status.HTTP_201_CREATED)


class RuleUpdateApi(ApiView):
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


class RuleDeleteApi(ApiView):
    @extend_schema(
        operation_id="auto_share_rule_delete",
        request=None,
        responses={
            204: None,
            403: OpenApiResponse(description="Not the rule's creator or an admin."),
            409: OpenApiResponse(description="The rule has made shares: disable it instead."),
        },
        description="Delete a rule that has made no shares (409 otherwise: disable it instead).",
    )
    def delete(self, request: Request, rule_id: int) -> Response:
        rule = selectors.auto_share_rule_get(rule_id=rule_id)
        rules.auto_share_rule_delete(rule=rule, user=request_user(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- Shares and events --------------------------------------------------------------------------


class ShareDetailApi(ApiView):
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


class ShareListApi(ApiView):
    OutputSerializer = ShareDetailApi.OutputSerializer
    pagination_class = EnvelopePagination
    query_parameters = [
        list_parameter("rule", "Rule ids or job names.", pattern=RULE_REFERENCE_RE),
        list_parameter("status", "Statuses.", choices=AutoShareStatus.values),
        list_parameter("run", "Instrument run ids.", pattern=INSTRUMENT_RUN_ID_RE),
    ]

    @extend_schema(operation_id="auto_share_list", responses={200: OutputSerializer(many=True)})
    def get(self, request: Request) -> Response:
        params = request.query_params
        references = query_list(params, "rule", pattern=RULE_REFERENCE_RE)
        # At most 19 ASCII digits (the pattern): a rule id, else a job name. The selector gets
        # typed values; an id beyond any row's matches nothing.
        shares = selectors.auto_share_list(
            rule_ids=[int(ref) for ref in references if ref.isdigit()],
            job_names=[ref for ref in references if not ref.isdigit()],
            statuses=query_choices(params, "status", AutoShareStatus.values),
            instrument_run_ids=query_list(params, "run", pattern=INSTRUMENT_RUN_ID_RE),
        )
        return self.pagination_class.response(
            queryset=shares, serializer_class=self.OutputSerializer, request=request, view=self
        )


class EventListApi(ApiView):
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
    query_parameters = [
        list_parameter("status", "Statuses.", choices=EventStatus.values),
        list_parameter("detailType", "Detail types (ReadSetsAdded, FastqListRowsAdded, ...)."),
    ]

    @extend_schema(
        operation_id="auto_share_event_list", responses={200: OutputSerializer(many=True)}
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
