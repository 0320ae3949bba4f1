"""Approval and Slack interactivity endpoints, mounted at /api/v1/ by datasharing/urls.py."""

from django.urls import path

from automation_app.approvals import api, slack_actions

urlpatterns = [
    path(
        "auto-share/shares/<jobid:share_id>:approve",
        api.AutoShareApproveApi.as_view(),
        name="auto-share-approve",
    ),
    path(
        "auto-share/shares/<jobid:share_id>:reject",
        api.AutoShareRejectApi.as_view(),
        name="auto-share-reject",
    ),
    path("slack/actions", slack_actions.SlackActionsApi.as_view(), name="slack-actions"),
]
