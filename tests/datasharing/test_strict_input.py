"""No 500 for anything a client sends, nothing a client sends silently ignored, and JSON for
every error (issue 16: the three 500s, unknown keys, NUL bytes, bidi controls, 1-second URLs)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client
from rest_framework.test import APIClient

from automation_app import selectors as automation_selectors
from automation_app.models import AutoShare, AutoShareRule, AutoShareStatus
from catalog_app.models import SequencingRun
from datasharing.query import MAX_INT
from packages_app.models import Package
from sharing_app.presign.models import Presign
from tests.datasharing.crashing_urls import SECRET_DETAIL

pytestmark = pytest.mark.django_db

SHARES = "/api/v1/auto-share/shares"


@pytest.fixture
def rule(admin_user: Any) -> AutoShareRule:
    return AutoShareRule.objects.create(
        job_name="cup-fastq",
        project_ids=["CUP"],
        data_types=["fastq"],
        share_destination="s3://recipient-bucket/cup/",
        created_by=admin_user,
    )


@pytest.fixture
def share(rule: AutoShareRule) -> AutoShare:
    run = SequencingRun.objects.create(instrument_run_id="241114_A01052_0001_ABCDEF")
    return AutoShare.objects.create(
        rule=rule, run=run, status=AutoShareStatus.AWAITING_APPROVAL, share_destination="s3://b/x/"
    )


@pytest.fixture
def pending_package(curator: Any) -> Package:
    return Package.objects.create(package_name="pending-package", request={}, requested_by=curator)


# --- The three 500s of the issue ----------------------------------------------------------------


def test_a_rule_id_too_large_for_any_database_is_a_400(viewer_client: APIClient) -> None:
    response = viewer_client.get(SHARES, {"rule": "99999999999999999999"})
    assert response.status_code == 400
    assert response.json()["message"].startswith("rule: ")


def test_a_rule_id_beyond_a_64_bit_row_id_matches_nothing(
    viewer_client: APIClient, share: AutoShare
) -> None:
    response = viewer_client.get(SHARES, {"rule": str(MAX_INT + 1)})
    assert response.status_code == 200
    assert response.json()["pagination"]["count"] == 0
    response = viewer_client.get(SHARES, {"rule": str(share.rule_id)})
    assert response.json()["pagination"]["count"] == 1


def test_the_share_selector_never_hands_an_out_of_range_id_to_the_database(
    share: AutoShare,
) -> None:
    # SQLite raised OverflowError on ids past 2**63-1; the suite runs on Postgres, so the
    # selector's own filter is checked here.
    shares = automation_selectors.auto_share_list(rule_ids=[MAX_INT + 1, 10**20], job_names=[])
    assert list(shares) == []


@pytest.mark.parametrize("reference", ["³", "٣", "1_0", " 1", "+1"])
def test_a_rule_reference_that_is_neither_an_id_nor_a_job_name_is_a_400(
    viewer_client: APIClient, reference: str
) -> None:
    response = viewer_client.get(SHARES, {"rule": reference})
    assert response.status_code == 400, response.json()


def test_shares_are_found_by_rule_id_or_job_name(
    viewer_client: APIClient, share: AutoShare
) -> None:
    rule = share.rule
    nothing = f"{MAX_INT},other-rule"
    for reference in (str(rule.pk), rule.job_name, f"{rule.pk},{rule.job_name}", nothing):
        response = viewer_client.get(SHARES, {"rule": reference})
        assert response.status_code == 200
        expected = 0 if reference == nothing else 1
        assert response.json()["pagination"]["count"] == expected, reference


def test_a_slack_timestamp_that_is_not_ascii_digits_is_a_401_with_a_secret_set(
    settings: Any,
) -> None:
    settings.SLACK_SIGNING_SECRET = "a-signing-secret"
    for timestamp in ("²", "٣", " 1", "1e3", str(10**20)):
        response = Client().generic(
            "POST",
            "/api/v1/slack/actions",
            b"payload=x",
            content_type="application/x-www-form-urlencoded",
            HTTP_X_SLACK_REQUEST_TIMESTAMP=timestamp,
            HTTP_X_SLACK_SIGNATURE="v0=0",
        )
        assert response.status_code == 401, timestamp
        assert response.json() == {"message": "Invalid or stale Slack signature."}


# --- Query strings -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/catalog/libraries?libraryId=a%00",
        "/api/v1/catalog/workflow-runs?status=a%00",
        "/api/v1/auto-share/events?detailType=a%00",
        "/api/v1/auto-share/shares?run=a%00",
        "/api/v1/presign?createdBy=a%00",
        "/api/v1/push?destination=s3%3A%2F%2Fb%2F%00",
        "/api/v1/push/files?libraryId=a%00",
        "/api/v1/package/?packageName=a%00",
    ],
)
def test_a_nul_byte_in_a_query_is_a_400_not_a_database_error(
    viewer_client: APIClient, url: str
) -> None:
    response = viewer_client.get(url)
    assert response.status_code == 400
    assert "control characters" in response.json()["message"]


@pytest.mark.parametrize("page", ["٣", " 3", "+3", "1_0", "0", "-1", "99999999999999999999"])
def test_page_numbers_are_ascii_integers_from_one(viewer_client: APIClient, page: str) -> None:
    response = viewer_client.get("/api/v1/push", {"page": page})
    assert response.status_code == 400
    assert response.json()["message"].startswith("page: ")


def test_a_page_past_the_last_is_a_json_404(viewer_client: APIClient) -> None:
    response = viewer_client.get("/api/v1/push", {"page": "2"})
    assert response.status_code == 404
    assert set(response.json()) == {"message"}


def test_unknown_query_keys_are_a_400_naming_them(viewer_client: APIClient) -> None:
    response = viewer_client.get("/api/v1/push", {"bogus": "1", "staus": "FAILED"})
    assert response.status_code == 400
    message = response.json()["message"]
    assert "'bogus'" in message and "'staus'" in message
    # Also where an operation reads no query parameter at all, and for DRF's `format`.
    assert viewer_client.get("/api/v1/presign/prs.x?verbose=1").status_code == 400
    assert viewer_client.get("/api/v1/push?format=json").status_code == 400


@pytest.mark.parametrize(
    "url", ["/api/v1/package/?status=", "/api/v1/push?status=", "/api/v1/auto-share/shares?rule="]
)
def test_a_blank_filter_value_is_a_400_not_no_filter(viewer_client: APIClient, url: str) -> None:
    response = viewer_client.get(url)
    assert response.status_code == 400
    assert "Empty value" in response.json()["message"]


def test_a_blank_report_format_is_a_400_not_the_default(
    viewer_client: APIClient, pending_package: Package
) -> None:
    response = viewer_client.get(f"/api/v1/package/{pending_package.id}/report?format=")
    assert response.status_code == 400


def test_a_rule_id_path_beyond_64_bits_is_a_json_404(viewer_client: APIClient) -> None:
    response = viewer_client.get("/api/v1/auto-share/rules/99999999999999999999")
    assert response.status_code == 404
    assert response.json()["message"].startswith("No such endpoint")


# --- Bodies --------------------------------------------------------------------------------------


def test_unknown_body_keys_are_a_400_naming_them_in_camel_case(
    curator_client: APIClient, pending_package: Package
) -> None:
    response = curator_client.post(
        f"/api/v1/package/{pending_package.id}:presign", {"expirySeconds": -1}, format="json"
    )
    assert response.status_code == 400
    assert "Unknown field(s): expirySeconds" in response.json()["message"]
    assert not Presign.objects.exists()
    response = curator_client.post(
        f"/api/v1/package/{pending_package.id}:push",
        {"shareDestination": "s3://recipient-bucket/x/", "dryRun": True},
        format="json",
    )
    assert response.status_code == 400
    assert "Unknown field(s): dryRun" in response.json()["message"]
    response = curator_client.post(
        "/api/v1/package/", {"packageName": "p1", "packageRequst": {}}, format="json"
    )
    assert response.status_code == 400
    assert "packageRequst" in response.json()["message"]


def test_json_types_are_not_coerced(curator_client: APIClient, pending_package: Package) -> None:
    for body in ({"fileUrlExpirySeconds": "3600"}, {"fileUrlExpirySeconds": True}):
        response = curator_client.post(
            f"/api/v1/package/{pending_package.id}:presign", body, format="json"
        )
        assert response.status_code == 400
        assert "must be a JSON int" in response.json()["message"]


def test_form_bodies_are_refused_where_the_api_takes_json(curator_client: APIClient) -> None:
    response = curator_client.post(
        "/api/v1/auto-share/rules",
        "jobName=abc&projectIdList=CUP",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 415
    assert set(response.json()) == {"message"}


def test_a_file_url_lifetime_below_the_minimum_is_a_400_that_says_so(
    curator_client: APIClient, pending_package: Package, settings: Any
) -> None:
    assert settings.PRESIGN_FILE_URL_MIN_EXPIRY_SECONDS == 15 * 60
    url = f"/api/v1/package/{pending_package.id}:presign"
    for response in (
        curator_client.post(url, {"fileUrlExpirySeconds": 1}, format="json"),
        curator_client.get(url, {"fileUrlExpirySeconds": "899"}),
    ):
        assert response.status_code == 400
        body = response.json()
        assert "between 900 and 604800" in body["message"]
        assert "expire before the script is run" in body["message"]
        assert body["details"]["minimum"] == 900
    assert not Presign.objects.exists()


# --- Unicode format and bidi controls -----------------------------------------------------------


@pytest.mark.parametrize("character", ["\u202e", "\u200b", "\u2066", "\ufeff", "\U000e0041"])
def test_a_push_destination_with_a_format_character_is_a_400(
    curator_client: APIClient, pending_package: Package, character: str
) -> None:
    response = curator_client.post(
        f"/api/v1/package/{pending_package.id}:push",
        {"shareDestination": f"s3://recipient-bucket/cup{character}/"},
        format="json",
    )
    assert response.status_code == 400
    assert f"U+{ord(character):04X}" in response.json()["message"]


def test_a_rule_destination_or_name_with_a_format_character_is_a_400(
    curator_client: APIClient,
) -> None:
    rule = {
        "jobName": "cup-fastq",
        "projectIdList": ["CUP"],
        "dataTypeList": ["fastq"],
        "shareDestination": "icav2://project/in\u202ecoming/",
    }
    response = curator_client.post("/api/v1/auto-share/rules", rule, format="json")
    assert response.status_code == 400
    assert "U+202E" in response.json()["message"]
    rule.update(jobName="cup\u200bfastq", shareDestination="s3://recipient-bucket/cup/")
    response = curator_client.post("/api/v1/auto-share/rules", rule, format="json")
    assert response.status_code == 400
    assert "jobName" in response.json()["message"]
    assert not AutoShareRule.objects.exists()


@pytest.mark.parametrize(
    "change",
    [
        {"packageName": "cup\u202efastq"},
        {"packageRequest": {"primaryDataPathPrefix": "fa\u200bstq"}},
    ],
)
def test_a_package_name_or_prefix_with_a_format_character_is_a_400(
    curator_client: APIClient, change: dict[str, Any]
) -> None:
    body: dict[str, Any] = {
        "packageName": "cup-fastq",
        "packageRequest": {"libraryIdList": ["L2400101"], "dataTypeList": ["fastq"]},
    }
    if "packageRequest" in change:
        body["packageRequest"].update(change["packageRequest"])
    else:
        body.update(change)
    response = curator_client.post("/api/v1/package:dryRun", body, format="json")
    assert response.status_code == 400
    assert (
        "packageName" in response.json()["message"] or "PathPrefix" in (response.json()["message"])
    )


# --- JSON for every error ------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/v1/nothing-here", "/nothing-here", "/schema/nothing"])
def test_unknown_paths_get_a_json_404(path: str) -> None:
    response = Client().get(path)
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert json.loads(response.content) == {"message": f"No such endpoint: {path}"}


def test_the_admin_keeps_its_html_404(django_user_model: Any) -> None:
    client = Client()
    client.force_login(django_user_model.objects.create_superuser("root", password=None))
    response = client.get("/admin/nothing-here/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


@pytest.mark.urls("tests.datasharing.crashing_urls")
@pytest.mark.parametrize("path", ["/api/v1/crash", "/crash"])
def test_a_crash_is_a_json_500_without_details(path: str) -> None:
    response = Client(raise_request_exception=False).get(path)
    assert response.status_code == 500
    assert response["Content-Type"] == "application/json"
    assert json.loads(response.content) == {"message": "Internal server error."}
    assert SECRET_DETAIL.encode() not in response.content


@pytest.mark.urls("tests.datasharing.crashing_urls")
def test_a_crash_in_the_admin_is_the_html_500_page() -> None:
    response = Client(raise_request_exception=False).get("/admin/crash")
    assert response.status_code == 500
    assert response["Content-Type"].startswith("text/html")
    assert SECRET_DETAIL.encode() not in response.content
