"""Paths with several operations: each method answered, permitted and documented by its own view."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from datasharing.routing import operations_by_method
from packages_app.api import PackageListApi

pytestmark = pytest.mark.django_db


def test_a_method_no_operation_answers_is_405_naming_the_allowed_methods(
    curator_client: APIClient,
) -> None:
    response = curator_client.put("/api/v1/package/", {}, format="json")
    assert response.status_code == 405
    assert response.json() == {"message": 'Method "PUT" not allowed.'}
    assert response["Allow"] == "GET, POST, HEAD, OPTIONS"
    rules = curator_client.post("/api/v1/auto-share/rules/1", {}, format="json")
    assert rules.status_code == 405
    assert rules["Allow"] == "GET, PATCH, DELETE, HEAD, OPTIONS"


def test_head_and_options_are_answered_on_a_joined_path(viewer_client: APIClient) -> None:
    assert viewer_client.head("/api/v1/package/").status_code == 200
    assert viewer_client.head("/api/v1/package").status_code == 200
    options = viewer_client.options("/api/v1/auto-share/rules")
    assert options.status_code == 200
    assert options["Allow"] == "GET, POST, HEAD, OPTIONS"


def test_each_method_is_judged_by_its_own_views_permissions(
    viewer_client: APIClient, anon_client: APIClient
) -> None:
    # Listing is a read; creating needs a curator.
    assert viewer_client.get("/api/v1/package/").status_code == 200
    assert viewer_client.post("/api/v1/package/", {}, format="json").status_code == 403
    # The predecessor's GET form of presign creates a presign: curators only, like POST.
    presign = viewer_client.get("/api/v1/package/pkg.01JD5V7Q3S8K2M4N6P8R0T2V4X:presign")
    assert presign.status_code == 403
    assert anon_client.get("/api/v1/package/").status_code == 401


def test_the_document_describes_each_method_by_its_operation_view(anon_client: APIClient) -> None:
    paths = anon_client.get("/schema/openapi.json").json()["paths"]
    operations = {
        (path, method): operation["operationId"]
        for path, methods in paths.items()
        for method, operation in methods.items()
    }
    assert operations[("/api/v1/package/", "get")] == "package_list"
    assert operations[("/api/v1/package/", "post")] == "package_create"
    assert operations[("/api/v1/package/{package_id}:presign", "get")] == "package_presign_get"
    assert operations[("/api/v1/auto-share/rules/{rule_id}", "delete")] == (
        "auto_share_rule_delete"
    )
    # The slash-less alias of /api/v1/package/ is served, not documented.
    assert "/api/v1/package" not in paths


def test_joining_views_under_a_name_that_is_no_http_method_is_refused() -> None:
    with pytest.raises(ValueError, match="Not HTTP methods: list"):
        operations_by_method(list=PackageListApi)
