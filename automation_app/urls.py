"""Automatic sharing endpoints, mounted at /api/v1/auto-share/."""

from django.urls import path

from automation_app import api

urlpatterns = [
    path("rules", api.RuleListApi.as_view(), name="auto-share-rule-list"),
    path("rules/<int:rule_id>", api.RuleDetailApi.as_view(), name="auto-share-rule-detail"),
    path("shares", api.ShareListApi.as_view(), name="auto-share-list"),
    path("shares/<jobid:share_id>", api.ShareDetailApi.as_view(), name="auto-share-detail"),
    path("events", api.EventListApi.as_view(), name="auto-share-event-list"),
]
