"""Approval endpoints: approve or reject an automatic share that awaits approval.

`POST /api/v1/auto-share/shares/{id}:approve` and `:reject`, for admins and holders of
`automation_app.approve_autoshare` (curators, by a migration). 404 unknown id, 409 when the share
does not await approval (a second approval starts nothing).
"""

from __future__ import annotations

from typing import Any

from django.core.validators import RegexValidator
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_serializer
from rest_framework import serializers
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response

from automation_app.approvals import services as approvals
from automation_app.models import AutoShare, DecisionChannel
from datasharing.api import ApiView, StrictSerializer
from datasharing.auth import request_user
from datasharing.schema import json_pattern

_ERROR_RESPONSES = {
    400: OpenApiResponse(description="Malformed body (comment not a string or too long)."),
    401: OpenApiResponse(description="No credentials."),
    403: OpenApiResponse(description="Not an admin, and without approve_autoshare."),
    404: OpenApiResponse(description="No automatic share with this id."),
    409: OpenApiResponse(description="The share does not await approval (already decided)."),
}
# Free text, but no NUL (DRF refuses it; the database could not store it).
_COMMENT_PATTERN = json_pattern("^[^\\u0000]*$")


class CanApproveAutoShares(BasePermission):
    message = "Approving automatic shares needs the admin role or the approve_autoshare permission."

    def has_permission(self, request: Request, view: Any) -> bool:
        return approvals.user_may_approve(request.user)


class AutoShareApproveApi(ApiView):
    permission_classes = [CanApproveAutoShares]

    @extend_schema_serializer(component_name="DecisionInput")
    class InputSerializer(StrictSerializer):
        comment = serializers.CharField(
            max_length=1000,
            required=False,
            allow_blank=True,
            default="",
            validators=[RegexValidator(_COMMENT_PATTERN)],
        )

    @extend_schema_serializer(component_name="AutoShareDecision")
    class OutputSerializer(serializers.ModelSerializer):
        """The share after the decision."""

        rule = serializers.CharField(source="rule.job_name")
        instrument_run_id = serializers.CharField(source="run.instrument_run_id")
        package_id = serializers.CharField(allow_null=True)
        push_job_id = serializers.CharField(allow_null=True)
        decided_by = serializers.SerializerMethodField()

        class Meta:
            model = AutoShare
            fields = [
                "id",
                "rule",
                "instrument_run_id",
                "status",
                "share_destination",
                "package_id",
                "push_job_id",
                "decided_by",
                "decided_by_slack_user",
                "decided_via",
                "decided_at",
                "decision_comment",
                "error",
            ]

        def get_decided_by(self, share: AutoShare) -> str:
            return share.decided_by.get_username() if share.decided_by else ""

    @extend_schema(
        operation_id="auto_share_approve",
        tags=["auto-share"],
        summary="Approve an automatic share: start its push",
        description="The share must be AWAITING_APPROVAL. It becomes PUSHING (or FAILED, with "
        "the reason in `error`, when the push is refused, e.g. the destination is no longer "
        "allowed).",
        request=InputSerializer,
        responses={200: OutputSerializer, **_ERROR_RESPONSES},
    )
    def post(self, request: Request, share_id: str) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        share = approvals.auto_share_approve(
            share_id=share_id,
            via=DecisionChannel.API,
            user=request_user(request),
            comment=serializer.validated_data["comment"],
        )
        return Response(self.OutputSerializer(share).data)


class AutoShareRejectApi(ApiView):
    permission_classes = [CanApproveAutoShares]

    InputSerializer = AutoShareApproveApi.InputSerializer
    OutputSerializer = AutoShareApproveApi.OutputSerializer

    @extend_schema(
        operation_id="auto_share_reject",
        tags=["auto-share"],
        summary="Reject an automatic share: nothing is pushed",
        request=InputSerializer,
        responses={200: OutputSerializer, **_ERROR_RESPONSES},
    )
    def post(self, request: Request, share_id: str) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        share = approvals.auto_share_reject(
            share_id=share_id,
            via=DecisionChannel.API,
            user=request_user(request),
            comment=serializer.validated_data["comment"],
        )
        return Response(self.OutputSerializer(share).data)
