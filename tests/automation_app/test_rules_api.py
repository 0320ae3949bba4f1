"""Auto-share rules over the API: camelCase fields, validation (400), destination policy (403),
roles, and deletion only of rules without history."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from rest_framework.test import APIClient

from automation_app.models import AutoShare, AutoShareRule
from catalog_app.models import SequencingRun

URL = "/api/v1/auto-share/rules"


def rule_body(**fields: Any) -> dict[str, Any]:
    body = {
        "jobName": "CUP-fastqs",
        "projectIdList": ["CUP"],
        "dataTypeList": ["fastq"],
        "shareDestination": "s3://recipient-bucket/cup",
        "requireApproval": False,
        "notifyEmails": ["curators@example.org"],
    }
    body.update(fields)
    return body


@pytest.fixture
def allowed(allow_destination: Callable[[str], None]) -> None:
    allow_destination("s3://recipient-bucket/")


def test_curator_creates_a_rule_and_viewer_reads_it(
    allowed: None, curator_client: APIClient, viewer_client: APIClient
) -> None:
    response = curator_client.post(URL, rule_body(), format="json")
    assert response.status_code == 201, response.json()
    created = response.json()
    assert created["jobName"] == "CUP-fastqs"
    assert created["shareDestination"] == "s3://recipient-bucket/cup/"
    assert created["projectIdList"] == ["CUP"]
    assert created["requireApproval"] is False
    assert created["enabled"] is True
    assert created["createdBy"] == "cora-curator"

    listing = viewer_client.get(URL)
    assert listing.status_code == 200
    body = listing.json()
    assert body["pagination"]["count"] == 1
    assert set(body) == {"links", "pagination", "results"}
    assert body["results"][0]["id"] == created["id"]
    assert viewer_client.get(f"{URL}/{created['id']}").json()["jobName"] == "CUP-fastqs"


@pytest.mark.parametrize(
    ("fields", "fragment"),
    [
        ({"jobName": "has space"}, "jobName"),
        ({"jobName": "../etc"}, "jobName"),
        ({"projectIdList": []}, "missing: projectIdList"),
        ({"projectIdList": [" "]}, "projectIdList must not be empty"),
        ({"projectIdList": "CUP"}, "projectIdList must be a list of strings"),
        ({"dataTypeList": ["bam"]}, "dataTypeList: unknown data type"),
        ({"dataTypeList": []}, "dataTypeList"),
        ({"shareDestination": "ftp://somewhere/"}, "shareDestination: Unsupported destination"),
        ({"shareDestination": "s3://recipient-bucket/../x/"}, "shareDestination"),
        ({"notifyEmails": ["not-an-email"]}, "notifyEmails: not a valid email address"),
        ({"secondaryAnalysisTypeList": ["umccrise"]}, "does not include secondaryAnalysis"),
        ({"requireApproval": "yes"}, "requireApproval must be true or false"),
        ({"colour": "blue"}, "Unknown field(s): colour"),
    ],
)
def test_invalid_rules_are_refused_with_400_naming_the_field(
    allowed: None, curator_client: APIClient, fields: dict[str, Any], fragment: str
) -> None:
    response = curator_client.post(URL, rule_body(**fields), format="json")
    assert response.status_code == 400, response.json()
    assert fragment in response.json()["message"]
    assert not AutoShareRule.objects.exists()


def test_missing_fields_are_listed(allowed: None, curator_client: APIClient) -> None:
    response = curator_client.post(URL, {"jobName": "x1"}, format="json")
    assert response.status_code == 400
    assert "projectIdList, dataTypeList, shareDestination" in response.json()["message"]


def test_job_names_are_unique(allowed: None, curator_client: APIClient) -> None:
    assert curator_client.post(URL, rule_body(), format="json").status_code == 201
    again = curator_client.post(URL, rule_body(), format="json")
    assert again.status_code == 400
    assert "already exists" in again.json()["message"]


def test_destination_outside_the_allow_list_is_403_for_curators_but_not_admins(
    allowed: None, curator_client: APIClient, admin_client_api: APIClient
) -> None:
    body = rule_body(shareDestination="s3://elsewhere-bucket/x/")
    refused = curator_client.post(URL, body, format="json")
    assert refused.status_code == 403
    assert "not in the allowed destinations" in refused.json()["message"]
    assert not AutoShareRule.objects.exists()
    assert admin_client_api.post(URL, body, format="json").status_code == 201


def test_viewers_and_strangers_cannot_write_and_anonymous_cannot_read(
    allowed: None,
    viewer_client: APIClient,
    stranger_client: APIClient,
    anon_client: APIClient,
) -> None:
    assert viewer_client.post(URL, rule_body(), format="json").status_code == 403
    assert stranger_client.get(URL).status_code == 403
    assert anon_client.get(URL).status_code == 401
    assert anon_client.get("/api/v1/auto-share/shares").status_code == 401
    assert anon_client.get("/api/v1/auto-share/events").status_code == 401
    assert not AutoShareRule.objects.exists()


def test_patch_changes_only_the_given_fields_and_checks_a_new_destination(
    allowed: None, curator_client: APIClient
) -> None:
    rule_id = curator_client.post(URL, rule_body(), format="json").json()["id"]
    response = curator_client.patch(f"{URL}/{rule_id}", {"enabled": False}, format="json")
    assert response.status_code == 200
    assert response.json()["enabled"] is False
    assert response.json()["projectIdList"] == ["CUP"]

    refused = curator_client.patch(
        f"{URL}/{rule_id}", {"shareDestination": "s3://elsewhere-bucket/"}, format="json"
    )
    assert refused.status_code == 403
    bad = curator_client.patch(f"{URL}/{rule_id}", {"dataTypeList": ["nope"]}, format="json")
    assert bad.status_code == 400
    rule = AutoShareRule.objects.get(pk=rule_id)
    assert rule.share_destination == "s3://recipient-bucket/cup/"
    assert rule.data_types == ["fastq"]


def test_unknown_rule_is_404(curator_client: APIClient) -> None:
    assert curator_client.get(f"{URL}/999999").status_code == 404
    assert curator_client.patch(f"{URL}/999999", {}, format="json").status_code == 404
    assert curator_client.get("/api/v1/auto-share/shares/ash.nope").status_code == 404


def test_delete_refuses_a_rule_with_shares(allowed: None, curator_client: APIClient) -> None:
    unused = curator_client.post(URL, rule_body(jobName="unused"), format="json").json()["id"]
    used = curator_client.post(URL, rule_body(jobName="used"), format="json").json()["id"]
    AutoShare.objects.create(
        rule_id=used,
        run=SequencingRun.objects.create(instrument_run_id="250101_A00001_0001_AXXXXXXXXX"),
        share_destination="s3://recipient-bucket/cup/",
    )
    assert curator_client.delete(f"{URL}/{unused}").status_code == 204
    refused = curator_client.delete(f"{URL}/{used}")
    assert refused.status_code == 409
    assert "disable it instead" in refused.json()["message"]
    assert AutoShareRule.objects.filter(pk=used).exists()


def test_share_and_event_lists_validate_their_filters(viewer_client: APIClient) -> None:
    ok = viewer_client.get("/api/v1/auto-share/shares", {"status": "PUSHING", "run": "X"})
    assert ok.status_code == 200
    assert ok.json()["results"] == []
    bad = viewer_client.get("/api/v1/auto-share/shares", {"status": "DONE"})
    assert bad.status_code == 400
    assert "Unknown status DONE" in bad.json()["message"]
    assert viewer_client.get("/api/v1/auto-share/events", {"status": "nope"}).status_code == 400
