"""The OpenAPI document tells the truth: error codes, closed bodies, media types, bounds, and
patterns that accept exactly what the parsers behind them accept."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client

from catalog_app.api import S3_URI_RE
from datasharing import s3
from datasharing.errors import DomainError
from datasharing.schema import json_pattern
from packages_app.api import PACKAGE_NAME_PATTERN, PATH_PREFIX_PATTERN
from packages_app.package_request import package_name_validate, package_request_parse
from sharing_app.destinations.destination import DESTINATION_RE, parse_destination

METHODS = {"get", "post", "put", "patch", "delete"}
MULTIPART_OPERATIONS = {
    "catalog_import_lims",
    "catalog_import_workflows",
    "catalog_import_fastq_list",
}


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    response = Client().get("/schema/openapi.json")
    assert response.status_code == 200
    return dict(response.json())


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in METHODS and not path.startswith("/healthz")  # no input, tested alone
    ]


def test_every_api_error_code_is_documented_with_the_error_body(document: dict[str, Any]) -> None:
    assert document["components"]["schemas"]["Error"]["required"] == ["message"]
    for path, method, operation in operations(document):
        responses = operation["responses"]
        label = f"{method.upper()} {path}"
        assert "400" in responses, label
        if operation.get("security"):
            assert {"401", "403"} <= set(responses), label
        if "{" in path or any(p["name"] == "page" for p in operation.get("parameters", [])):
            assert "404" in responses, label
        if "requestBody" in operation:
            assert "413" in responses, label
        assert "429" not in responses, label  # no throttling
        for code, response in responses.items():
            if code.startswith("4") and code != "414":
                schema = response["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/Error"}, (label, code)


def test_state_conflicts_are_documented_where_they_happen(document: dict[str, Any]) -> None:
    conflicting = {
        ("/api/v1/package/{package_id}", "delete"),
        ("/api/v1/package/{package_id}:abort", "patch"),
        ("/api/v1/package/{package_id}:push", "post"),
        ("/api/v1/package/{package_id}:presign", "post"),
        ("/api/v1/package/{package_id}:presign", "get"),
        ("/api/v1/push/{push_job_id}:abort", "patch"),
        ("/api/v1/auto-share/rules/{rule_id}", "delete"),
        ("/api/v1/auto-share/shares/{share_id}:approve", "post"),
        ("/api/v1/auto-share/shares/{share_id}:reject", "post"),
    }
    for path, method in conflicting:
        assert "409" in document["paths"][path][method]["responses"], (method, path)


def test_bodies_are_json_and_closed_except_the_uploads(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    for path, method, operation in operations(document):
        if "requestBody" not in operation or path == "/api/v1/slack/actions":
            continue
        content = operation["requestBody"]["content"]
        expected = (
            {"multipart/form-data"}
            if operation["operationId"] in MULTIPART_OPERATIONS
            else {"application/json"}
        )
        assert set(content) == expected, (method, path)
        (media,) = content.values()
        component = schemas[media["schema"]["$ref"].rsplit("/", 1)[-1]]
        assert component["additionalProperties"] is False, (method, path)
    nested = schemas["PackageCreateRequest"]["properties"]["packageRequest"]["$ref"]
    assert schemas[nested.rsplit("/", 1)[-1]]["additionalProperties"] is False


def test_required_fields_and_bounds_are_stated(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    assert set(schemas["RuleInputRequest"]["required"]) == {
        "jobName",
        "projectIdList",
        "dataTypeList",
        "shareDestination",
    }
    assert "required" not in schemas["PatchedRuleInputRequest"]
    assert schemas["PackageCreateRequest"]["required"] == ["packageName", "packageRequest"]
    expiry = schemas["PackagePresignInputRequest"]["properties"]["fileUrlExpirySeconds"]
    assert (expiry["minimum"], expiry["maximum"]) == (900, 7 * 24 * 3600)
    push = schemas["PackagePushInputRequest"]["properties"]["shareDestination"]
    assert push["pattern"] == json_pattern(DESTINATION_RE)
    listing = document["paths"]["/api/v1/push"]["get"]["parameters"]
    by_name = {p["name"]: p["schema"] for p in listing}
    assert by_name["page"]["minimum"] == 1
    assert (by_name["rowsPerPage"]["minimum"], by_name["rowsPerPage"]["maximum"]) == (1, 1000)
    assert by_name["packageId"]["maxItems"] == 100


DESTINATIONS = [
    "s3://bucket",
    "s3://bucket/",
    "s3://bucket/in coming/x/",
    "s3://bucket//",
    "s3://bucket/a/./b/",
    "s3://bucket/a/../b/",
    "s3://bu..cket/x/",
    "s3://b/x/",
    "s3://Bucket/x/",
    "s3://bucket/a\\b/",
    "s3://bucket/a\u202eb/",
    "s3://bucket/a\x00b/",
    "icav2://project/folder/",
    "icav2://project/folder",
    "icav2://project/",
    "icav2://project//folder/",
    "icav2://project/a:b/",
    "icav2://pro ject/f/",
    "icav2://project/f\u200b/",
    "ftp://bucket/x/",
    "",
]


@pytest.mark.parametrize("value", DESTINATIONS)
def test_the_destination_pattern_accepts_what_the_parser_accepts(value: str) -> None:
    try:
        parse_destination(value)
        parsed = True
    except DomainError:
        parsed = False
    assert bool(re.search(json_pattern(DESTINATION_RE), value)) == parsed


@pytest.mark.parametrize(
    "value",
    ["s3://bucket/x/", "s3://bucket", "s3://b/x", "s3://bu..cket/x", "s3://bucket/../x", "x"],
)
def test_the_s3_uri_pattern_accepts_what_the_parser_accepts(value: str) -> None:
    try:
        s3.parse_s3_uri(value)
        parsed = True
    except DomainError:
        parsed = False
    assert bool(re.search(json_pattern(S3_URI_RE), value)) == parsed


@pytest.mark.parametrize(
    "value", ["fastq", "/", "primary.v2", "a..b", ".hidden", "a/b", "fa\u200bstq", "x" * 101]
)
def test_the_prefix_pattern_accepts_what_the_request_parser_accepts(value: str) -> None:
    request = {
        "libraryIdList": ["L1"],
        "dataTypeList": ["fastq"],
        "primaryDataPathPrefix": value,
    }
    try:
        package_request_parse(request)
        parsed = True
    except DomainError:
        parsed = False
    assert bool(re.search(PATH_PREFIX_PATTERN, value)) == parsed


@pytest.mark.parametrize(
    "value",
    ["CUP-fastqs-2025", "a", "ab", "1ab", "a..b", "a b", "ä-package", "cup\u202e", "x" * 255],
)
def test_the_package_name_pattern_accepts_what_the_service_accepts(value: str) -> None:
    try:
        package_name_validate(value)
        accepted = True
    except DomainError:
        accepted = False
    assert bool(re.search(PACKAGE_NAME_PATTERN, value)) == accepted
