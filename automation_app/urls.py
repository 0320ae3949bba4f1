"""Automatic sharing endpoints, mounted at /api/v1/auto-share/."""

from django.urls import path

from automation_app import api
from datasharing.routing import operations_by_method

urlpatterns = [
    path(
        "rules",
        operations_by_method(get=api.RuleListApi, post=api.RuleCreateApi),
        name="auto-share-rule-list",
    ),
    path(
        "rules/<rowid:rule_id>",
        operations_by_method(
            get=api.RuleDetailApi, patch=api.RuleUpdateApi, delete=api.RuleDeleteApi
        ),
        name="auto-share-rule-detail",
    ),
    path("shares", api.ShareListApi.as_view(), name="auto-share-list"),
    path("shares/<jobid:share_id>", api.ShareDetailApi.as_view(), name="auto-share-detail"),
    path("events", api.EventListApi.as_view(), name="auto-share-event-list"),
]
