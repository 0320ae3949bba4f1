"""`POST /api/v1/slack/actions`: Slack's interactivity request URL (Push / Reject buttons).

No user authentication: Slack's request signature is the authentication. A request whose
`X-Slack-Signature` does not match (HMAC-SHA256 with SLACK_SIGNING_SECRET) or whose
`X-Slack-Request-Timestamp` is more than five minutes away gets 401 and changes nothing. The
clicking Slack user must be one of the rule's `slack_approvers`; anyone else, and a click on a
share already decided, gets an ephemeral message and changes nothing. Slack wants an answer
within three seconds: the push and the message updates run after the response, in tasks.
"""

from __future__ import annotations

import json
import logging
from functools import partial
from typing import Any
from urllib.parse import parse_qs

from django.db import transaction
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_serializer,
)
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response

from automation_app.approvals import services as approvals
from automation_app.notifications import tasks as notification_tasks
from automation_app.notifications.content import PUSH_ACTION_ID, REJECT_ACTION_ID
from automation_app.notifications.slack import slack_request_is_authentic
from datasharing.api import ApiView
from datasharing.errors import DomainError

logger = logging.getLogger(__name__)

_ACTIONS = (PUSH_ACTION_ID, REJECT_ACTION_ID)


def _decision(payload: Any) -> tuple[str, str, str, str]:
    """(action id, share id, Slack user id, channel id) of a `block_actions` payload."""
    if not isinstance(payload, dict) or payload.get("type") != "block_actions":
        raise DomainError("Expected a block_actions payload.")
    user = payload.get("user")
    actions = payload.get("actions")
    if not isinstance(user, dict) or not isinstance(user.get("id"), str) or not user["id"]:
        raise DomainError("The payload names no Slack user.")
    if not isinstance(actions, list) or not actions or not isinstance(actions[0], dict):
        raise DomainError("The payload holds no action.")
    action_id, share_id = actions[0].get("action_id"), actions[0].get("value")
    if action_id not in _ACTIONS or not isinstance(share_id, str):
        raise DomainError(f"Unknown action {str(action_id)[:100]!r}.")
    channel = payload.get("channel")
    channel_id = channel.get("id") if isinstance(channel, dict) else ""
    return action_id, share_id, user["id"], channel_id if isinstance(channel_id, str) else ""


class SlackActionsApi(ApiView):
    authentication_classes: list[type] = []
    permission_classes = [AllowAny]
    # The body is read raw (the signature covers its exact bytes) and parsed here.
    parser_classes: list[type] = []

    @extend_schema_serializer(component_name="SlackActionsForm")
    class InputSerializer(serializers.Serializer):
        # The form as documented; `post` parses the signed raw body itself.
        payload = serializers.CharField()

    @extend_schema_serializer(component_name="SlackActionsReply")
    class OutputSerializer(serializers.Serializer):
        response_type = serializers.CharField()
        replace_original = serializers.BooleanField()
        text = serializers.CharField()

    @extend_schema(
        operation_id="slack_actions",
        tags=["slack"],
        summary="Slack interactivity: Push / Reject buttons of approval requests",
        description=(
            "Called by Slack, not by users: authenticated by Slack's request signature "
            "(`X-Slack-Signature`, `v0=` HMAC-SHA256 of `v0:{timestamp}:{body}` keyed with "
            "SLACK_SIGNING_SECRET) and `X-Slack-Request-Timestamp` within five minutes; 401 "
            "otherwise. The body is form-encoded with one field, `payload`, a `block_actions` "
            "JSON document. A Slack user not among the rule's approvers gets an ephemeral "
            "refusal and nothing changes."
        ),
        auth=[],
        parameters=[
            OpenApiParameter(
                "X-Slack-Signature",
                str,
                OpenApiParameter.HEADER,
                required=True,
                description="`v0=` followed by the hex HMAC-SHA256 Slack computed.",
            ),
            OpenApiParameter(
                "X-Slack-Request-Timestamp",
                {"type": "string", "pattern": "^[0-9]{1,12}$"},
                OpenApiParameter.HEADER,
                required=True,
                description="Unix time Slack signed the request at (ASCII digits).",
            ),
        ],
        request={"application/x-www-form-urlencoded": InputSerializer},
        responses={
            200: OutputSerializer,
            400: OpenApiResponse(description="Not a block_actions payload of ours."),
            401: OpenApiResponse(description="Missing, forged or stale Slack signature."),
        },
    )
    def post(self, request: Request) -> Response:
        raw = request.body
        if not slack_request_is_authentic(
            timestamp=request.headers.get("X-Slack-Request-Timestamp", ""),
            signature=request.headers.get("X-Slack-Signature", ""),
            body=raw,
        ):
            logger.warning("Slack action refused: bad or stale signature")
            return Response(
                {"message": "Invalid or stale Slack signature."},
                status=status.HTTP_401_UNAUTHORIZED,
            )
        try:
            fields = parse_qs(raw.decode(), strict_parsing=True)
            payload = json.loads(fields["payload"][0])
        except (UnicodeDecodeError, ValueError, KeyError):
            raise DomainError("Expected a form body with a JSON `payload` field.") from None
        action_id, share_id, slack_user, channel = _decision(payload)
        text = approvals.auto_share_slack_decide(
            share_id=share_id, approve=action_id == PUSH_ACTION_ID, slack_user=slack_user
        )
        if channel:
            transaction.on_commit(
                partial(notification_tasks.slack_ephemeral_send.delay, channel, slack_user, text)
            )
        # Slack ignores the body of a block_actions answer; the ephemeral message is posted
        # with chat.postEphemeral. The body says the same for logs and tests.
        reply = {"response_type": "ephemeral", "replace_original": False, "text": text}
        return Response(self.OutputSerializer(reply).data)
