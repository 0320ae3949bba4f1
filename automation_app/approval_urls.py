"""Approval and Slack interactivity endpoints, mounted at /api/v1/ by datasharing/urls.py."""

from django.urls import path

from automation_app import approval_api, slack_api

urlpatterns = [
    path(
        "auto-share/shares/<jobid:share_id>:approve",
        approval_api.AutoShareApproveApi.as_view(),
        name="auto-share-approve",
    ),
    path(
        "auto-share/shares/<jobid:share_id>:reject",
        approval_api.AutoShareRejectApi.as_view(),
        name="auto-share-reject",
    ),
    path("slack/actions", slack_api.SlackActionsApi.as_view(), name="slack-actions"),
]
