"""Destination parsing (400), the value's round trip through a push job, and the allow-list policy
(403)."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.core.exceptions import ValidationError

from datasharing.errors import DomainError, domain_error_status
from sharing_app.destinations.destination import (
    S3,
    Destination,
    check_relative_paths_fit,
    parse_destination,
)
from sharing_app.destinations.models import AllowedDestination
from sharing_app.destinations.policy import require_destination_allowed
from sharing_app.push.models import PushJob
from sharing_app.push.services import push_create
from tests.factories import make_frozen_package


@pytest.mark.parametrize(
    ("raw", "uri", "bucket", "prefix"),
    [
        (
            "s3://collab-bucket/incoming/",
            "s3://collab-bucket/incoming/",
            "collab-bucket",
            "incoming/",
        ),
        (
            "s3://collab-bucket/incoming",
            "s3://collab-bucket/incoming/",
            "collab-bucket",
            "incoming/",
        ),
        ("s3://collab-bucket", "s3://collab-bucket/", "collab-bucket", ""),
        ("  s3://collab.bucket/a/b c/  ", "s3://collab.bucket/a/b c/", "collab.bucket", "a/b c/"),
    ],
)
def test_s3_destinations_are_normalised(raw: str, uri: str, bucket: str, prefix: str) -> None:
    destination = parse_destination(raw)
    assert (destination.kind, destination.uri, destination.bucket, destination.prefix) == (
        "s3",
        uri,
        bucket,
        prefix,
    )
    assert destination.key_for("fastq/x.fastq.gz") == prefix + "fastq/x.fastq.gz"


@pytest.mark.parametrize(
    ("raw", "project", "folder", "by_id"),
    [
        ("icav2://CUP/deliveries/2024/", "CUP", "/deliveries/2024/", False),
        ("icav2://CUP/deliveries", "CUP", "/deliveries/", False),
        (
            "icav2://4e1c0b1a-3c8e-4d0f-9a55-0123456789ab/in/",
            "4e1c0b1a-3c8e-4d0f-9a55-0123456789ab",
            "/in/",
            True,
        ),
    ],
)
def test_icav2_destinations_name_a_project_and_a_folder(
    raw: str, project: str, folder: str, by_id: bool
) -> None:
    destination = parse_destination(raw)
    assert (destination.kind, destination.project, destination.folder_path) == (
        "icav2",
        project,
        folder,
    )
    assert destination.project_is_id is by_id


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        None,
        42,
        "https://bucket/prefix/",
        "gds://volume/path/",
        "s3://",
        "s3://UPPER/prefix/",
        "s3://ab/prefix/",
        "s3://bucket..name/x/",
        "s3://bucket/../other/",
        "s3://bucket/a/./b/",
        "s3://bucket//double/",
        "s3://bucket/a//b/",
        "s3://bucket/a\\b/",
        "s3://bucket/new\nline/",
        "s3://bucket/tab\there/",
        "s3://bucket/" + "x" * 1100,
        "icav2://",
        "icav2:///folder/",
        "icav2://CUP/",
        "icav2://CUP",
        "icav2://CUP/../x/",
        "icav2://CUP/a//b/",
        "icav2://CUP/what?/",
        "icav2://CUP/100%/",
        "icav2://bad project/x/",
        "icav2://CUP/x\x7f/",
    ],
)
def test_malformed_destinations_are_refused_with_400(raw: object) -> None:
    with pytest.raises(DomainError) as refused:
        parse_destination(raw)
    assert domain_error_status(refused.value) == 400


ROUND_TRIP = [
    "s3://collab-bucket/incoming/2024/",
    "s3://collab-bucket",
    "icav2://CUP/deliveries/2024/",
    "icav2://4e1c0b1a-3c8e-4d0f-9a55-0123456789ab/in/",
]


@pytest.mark.parametrize("raw", ROUND_TRIP)
def test_a_destination_rebuilt_from_its_parts_is_the_parsed_one(raw: str) -> None:
    parsed = parse_destination(raw)
    if parsed.kind == S3:
        rebuilt = Destination.in_s3(bucket=parsed.bucket, prefix=parsed.prefix)
    else:
        rebuilt = Destination.in_icav2(project=parsed.project, folder_path=parsed.folder_path)
    assert rebuilt == parsed
    assert parse_destination(parsed.uri) == parsed


@pytest.mark.django_db
@pytest.mark.parametrize("raw", ROUND_TRIP)
def test_a_push_job_gives_back_the_destination_it_was_created_for(raw: str, admin_user) -> None:
    destination = parse_destination(raw)
    # Not started: the job's start is enqueued when the test's transaction commits, never.
    job = push_create(
        package=make_frozen_package(files=[]), destination=destination, user=admin_user
    )
    stored = PushJob.objects.get(id=job.id)
    assert stored.destination == destination
    assert stored.share_destination == destination.uri


def test_a_prefix_making_keys_longer_than_s3_allows_is_refused() -> None:
    destination = parse_destination("s3://bucket/" + "p" * 900 + "/")
    with pytest.raises(DomainError, match="longer than 1024 bytes"):
        check_relative_paths_fit(destination, "fastq/" + "f" * 200)
    check_relative_paths_fit(destination, "fastq/short.fastq.gz")


@pytest.mark.django_db
def test_destinations_from_settings_and_admin_entries_are_allowed(settings, curator) -> None:
    settings.SHARE_ALLOWED_DESTINATIONS = ["s3://collab-a/incoming", "not a destination"]
    AllowedDestination.objects.create(prefix="icav2://CUP/deliveries/")
    AllowedDestination.objects.create(prefix="s3://collab-b/", enabled=False)

    require_destination_allowed(parse_destination("s3://collab-a/incoming/"), user=curator)
    require_destination_allowed(parse_destination("s3://collab-a/incoming/2024/x/"), user=curator)
    require_destination_allowed(parse_destination("icav2://CUP/deliveries/b1/"), user=curator)
    for refused in (
        "s3://collab-a/incoming-other/",
        "s3://collab-a/",
        "s3://collab-b/x/",
        "icav2://CUP/elsewhere/",
        # The same project written by id is not matched by an entry naming it.
        "icav2://4e1c0b1a-3c8e-4d0f-9a55-0123456789ab/deliveries/",
    ):
        with pytest.raises(DomainError) as denied:
            require_destination_allowed(parse_destination(refused), user=curator)
        assert domain_error_status(denied.value) == 403


@pytest.mark.django_db
def test_the_explicit_permission_and_admins_may_push_anywhere(
    settings, curator, admin_user
) -> None:
    settings.SHARE_ALLOWED_DESTINATIONS = []
    anywhere = parse_destination("s3://somewhere-else/x/")
    with pytest.raises(DomainError):
        require_destination_allowed(anywhere, user=curator)
    require_destination_allowed(anywhere, user=admin_user)
    curator.user_permissions.add(Permission.objects.get(codename="push_to_any_destination"))
    curator = type(curator).objects.get(pk=curator.pk)  # fresh permission cache
    require_destination_allowed(anywhere, user=curator)


@pytest.mark.django_db
def test_admin_entries_are_validated_and_normalised() -> None:
    entry = AllowedDestination(prefix="s3://collab/incoming")
    entry.full_clean()
    assert entry.prefix == "s3://collab/incoming/"
    with pytest.raises(ValidationError):
        AllowedDestination(prefix="s3://collab/../x/").full_clean()


@pytest.mark.django_db
def test_automation_without_a_user_is_held_to_the_allowed_list(settings) -> None:
    settings.SHARE_ALLOWED_DESTINATIONS = ["s3://collab-a/"]
    require_destination_allowed(parse_destination("s3://collab-a/run1/"), user=None)
    with pytest.raises(DomainError) as denied:
        require_destination_allowed(parse_destination("s3://elsewhere/"), user=None)
    assert domain_error_status(denied.value) == 403
