"""No destination overlaps an allowed catalogue source or the artifact bucket, for anyone: pushes
(API and automation), rules and the allowed-destinations admin refuse; ICAv2 is not concerned."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Permission, User
from django.core.exceptions import ValidationError
from rest_framework.test import APIClient

from automation_app.models import AutoShareRule
from catalog_app.sources.models import AllowedSource
from datasharing.errors import DomainError, domain_error_status
from sharing_app.destinations.destination import parse_destination
from sharing_app.destinations.models import AllowedDestination
from sharing_app.destinations.policy import require_destination_allowed
from sharing_app.push.models import PushJob
from tests.conftest import client_for

pytestmark = pytest.mark.django_db

SOURCE = "s3://lab-source/runs/"
RULES = "/api/v1/auto-share/rules"


@pytest.fixture(autouse=True)
def sources(settings: Any) -> None:
    settings.CATALOG_ALLOWED_SOURCES = ["s3://facility-primary/"]
    settings.SHARE_ALLOWED_DESTINATIONS = []
    AllowedSource.objects.create(prefix=SOURCE)


@pytest.fixture
def package(source_files, package_factory, admin_user):  # type: ignore[no-untyped-def]
    return package_factory(source_files(("fastq/a.fastq.gz", 100)), user=admin_user)


def push(client: APIClient, package_id: str, destination: str) -> Any:
    return client.post(
        f"/api/v1/package/{package_id}:push", {"shareDestination": destination}, format="json"
    )


def may_push_anywhere(user: User) -> User:
    user.user_permissions.add(Permission.objects.get(codename="push_to_any_destination"))
    return type(user).objects.get(pk=user.pk)  # fresh permission cache


@pytest.mark.parametrize(
    "destination",
    [
        "s3://{artifacts}/",
        "s3://{artifacts}/packages/",
        "s3://{artifacts}/elsewhere/incoming/",
        "s3://facility-primary/",
        "s3://facility-primary/outgoing/",
        "s3://lab-source/runs/",
        "s3://lab-source/runs/RUN1/",
        "s3://lab-source/",  # above the source
    ],
)
def test_an_admin_cannot_push_into_the_artifact_bucket_or_a_source(
    admin_client_api: APIClient, package, settings, destination: str
) -> None:  # type: ignore[no-untyped-def]
    """Issue 16: an admin could push into the artifact bucket and the primary-data bucket."""
    uri = destination.format(artifacts=settings.ARTIFACT_BUCKET)
    response = push(admin_client_api, package.id, uri)
    assert response.status_code == 403, response.json()
    assert "overlaps" in response.json()["message"]
    assert not PushJob.objects.exists()


def test_the_permission_to_push_anywhere_does_not_reach_sources(
    curator: User, package, settings
) -> None:  # type: ignore[no-untyped-def]
    client = client_for(may_push_anywhere(curator))
    assert push(client, package.id, "s3://lab-source/runs/x/").status_code == 403
    artifacts = f"s3://{settings.ARTIFACT_BUCKET}/x/"
    assert push(client, package.id, artifacts).status_code == 403
    assert push(client, package.id, "s3://lab-source/outgoing/").status_code == 202
    assert PushJob.objects.count() == 1


def test_an_allow_list_entry_overlapping_a_source_admits_no_one(curator: User, settings) -> None:  # type: ignore[no-untyped-def]
    settings.SHARE_ALLOWED_DESTINATIONS = ["s3://lab-source/"]
    with pytest.raises(DomainError) as refused:
        require_destination_allowed(parse_destination("s3://lab-source/runs/new/"), user=curator)
    assert domain_error_status(refused.value) == 403
    assert SOURCE in refused.value.message
    require_destination_allowed(parse_destination("s3://lab-source/outgoing/"), user=curator)


def test_automation_is_held_to_the_same_rule(settings) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(DomainError) as refused:
        require_destination_allowed(parse_destination("s3://facility-primary/x/"), user=None)
    assert "overlaps s3://facility-primary/" in refused.value.message


def test_icav2_destinations_are_not_concerned(admin_user: User) -> None:
    require_destination_allowed(parse_destination("icav2://lab-source/runs/"), user=admin_user)


def test_the_allowed_destinations_admin_refuses_overlaps(settings) -> None:  # type: ignore[no-untyped-def]
    for prefix in ("s3://lab-source/", f"s3://{settings.ARTIFACT_BUCKET}/out/"):
        with pytest.raises(ValidationError) as refused:
            AllowedDestination(prefix=prefix).full_clean()
        assert "overlaps" in refused.value.message_dict["prefix"][0]
    AllowedDestination(prefix="s3://lab-source/outgoing").full_clean()
    AllowedDestination(prefix="icav2://CUP/runs/").full_clean()


def rule_body(**fields: Any) -> dict[str, Any]:
    return {
        "jobName": "CUP-fastqs",
        "projectIdList": ["CUP"],
        "dataTypeList": ["fastq"],
        "shareDestination": "s3://lab-source/outgoing/",
        "requireApproval": False,
        **fields,
    }


def test_rules_cannot_be_created_or_edited_to_push_into_a_source(
    admin_client_api: APIClient,
) -> None:
    refused = admin_client_api.post(
        RULES, rule_body(shareDestination="s3://lab-source/runs/"), format="json"
    )
    assert refused.status_code == 403
    assert "overlaps" in refused.json()["message"]
    created = admin_client_api.post(RULES, rule_body(), format="json")
    assert created.status_code == 201, created.json()
    rule_id = created.json()["id"]
    edited = admin_client_api.patch(
        f"{RULES}/{rule_id}", {"shareDestination": "s3://facility-primary/"}, format="json"
    )
    assert edited.status_code == 403
    assert AutoShareRule.objects.get(pk=rule_id).share_destination == "s3://lab-source/outgoing/"
