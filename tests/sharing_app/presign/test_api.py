"""Presign API: permissions (personas), refusals, expiry options, records, admin."""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from rest_framework.test import APIClient

from datasharing import s3
from packages_app.models import Package, PackageFile, PackageStatus
from packages_app.report.artifacts import package_artifacts_write
from sharing_app.presign.models import Presign
from tests.conftest import client_for
from tests.sharing_app.presign.helpers import CONTENTS, fetch, make_download_package

pytestmark = pytest.mark.django_db

SMALL = dict(list(CONTENTS.items())[:2])


@pytest.fixture
def package(curator: Any) -> Package:
    return make_download_package(user=curator, contents=SMALL, name="PRJ-small")


def presign_url(package: Package | str) -> str:
    package_id = package if isinstance(package, str) else package.id
    return f"/api/v1/package/{package_id}:presign"


def when(value: str) -> dt.datetime:
    parsed = parse_datetime(value)
    assert parsed is not None
    return parsed


# --- Permissions --------------------------------------------------------------------------------


def test_anonymous_gets_401(anon_client: APIClient, package: Package) -> None:
    assert anon_client.post(presign_url(package)).status_code == 401
    assert anon_client.get("/api/v1/presign").status_code == 401


@pytest.mark.parametrize("method", ["get", "post"])
def test_viewer_and_stranger_cannot_presign(
    viewer_client: APIClient, stranger_client: APIClient, package: Package, method: str
) -> None:
    for client in (viewer_client, stranger_client):
        response = getattr(client, method)(presign_url(package))
        assert response.status_code == 403, response.json()
    assert not Presign.objects.exists()
    s3.ensure_bucket("datasharing-artifacts")
    assert not list(s3.list_objects("datasharing-artifacts", f"packages/{package.id}/presigns/"))


def test_curator_presigns_and_the_record_says_who_when_and_what(
    curator_client: APIClient, curator: Any, package: Package
) -> None:
    before = timezone.now()
    response = curator_client.post(presign_url(package))

    assert response.status_code == 201, response.json()
    body = response.json()
    presign = Presign.objects.get()
    assert body["id"] == presign.id and presign.id.startswith("prs.")
    assert presign.created_by == curator and body["createdBy"] == curator.username
    assert before <= presign.created_at <= timezone.now()
    assert body["packageId"] == package.id and body["packageName"] == "PRJ-small"
    assert body["fileCount"] == presign.file_count == 2
    assert body["totalBytes"] == sum(len(content) for content in SMALL.values())
    assert body["fileUrlExpirySeconds"] == 7 * 24 * 3600
    assert abs(when(body["fileUrlsExpireAt"]) - (before + dt.timedelta(days=7))) < dt.timedelta(
        seconds=5
    )
    assert abs(when(body["scriptUrlExpiresAt"]) - (before + dt.timedelta(days=1))) < dt.timedelta(
        seconds=5
    )
    assert body["signer"] == "sigv4"
    assert body["warnings"] == []
    assert body["scriptName"] == "download-data.PRJ-small.sh"
    key = f"packages/{package.id}/presigns/{presign.id}/download-data.PRJ-small.sh"
    assert body["scriptUri"] == f"s3://datasharing-artifacts/{key}"
    stored = s3.get_object_bytes("datasharing-artifacts", key)
    assert fetch(body["scriptUrl"]) == stored
    assert body["scriptSha256"] == hashlib.sha256(stored).hexdigest()
    assert body["scriptBytes"] == len(stored)
    expiry_line = f"URLS_EXPIRE_AT={body['fileUrlsExpireAt'][:19]}Z"
    assert expiry_line.encode() in stored


def test_any_curator_may_presign_another_curators_package(
    other_curator: Any, package: Package
) -> None:
    assert package.requested_by is not None and package.requested_by.username == "cora-curator"
    response = client_for(other_curator).post(presign_url(package))
    assert response.status_code == 201, response.json()
    assert response.json()["createdBy"] == "otto-curator"


def test_admin_presigns_with_get_and_a_shorter_expiry(
    admin_client_api: APIClient, package: Package
) -> None:
    response = admin_client_api.get(presign_url(package), {"fileUrlExpirySeconds": "3600"})

    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["fileUrlExpirySeconds"] == 3600
    assert when(body["fileUrlsExpireAt"]) - when(body["createdAt"]) < dt.timedelta(seconds=3601)
    # The script URL never outlives the file URLs.
    assert when(body["scriptUrlExpiresAt"]) <= when(body["fileUrlsExpireAt"])
    assert (
        "X-Amz-Expires=3600&"
        in s3.get_object_bytes(*body["scriptUri"][len("s3://") :].split("/", 1)).decode()
    )


def test_bare_ulid_is_accepted(curator_client: APIClient, package: Package) -> None:
    response = curator_client.post(presign_url(package.id.removeprefix("pkg.")))
    assert response.status_code == 201, response.json()


# --- Refusals -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "package_id", ["pkg.01JD5V7Q3S8K2M4N6P8R0T2V4X", "not-an-id", "psh.01JD5V7Q3S8K2M4N6P8R0T2V4X"]
)
def test_unknown_package_is_404(curator_client: APIClient, package_id: str) -> None:
    response = curator_client.post(presign_url(package_id))
    assert response.status_code == 404
    assert response.json()["message"]


@pytest.mark.parametrize(
    "status",
    [PackageStatus.PENDING, PackageStatus.RUNNING, PackageStatus.FAILED, PackageStatus.ABORTED],
)
def test_package_that_did_not_succeed_is_409(
    curator_client: APIClient, package: Package, status: str
) -> None:
    Package.objects.filter(id=package.id).update(status=status)

    response = curator_client.post(presign_url(package))

    assert response.status_code == 409
    assert status in response.json()["message"]
    assert not Presign.objects.exists()


def test_expired_package_is_409(curator_client: APIClient, package: Package) -> None:
    Package.objects.filter(id=package.id).update(expires_at=timezone.now() - dt.timedelta(days=1))

    response = curator_client.post(presign_url(package))

    assert response.status_code == 409
    assert "expired" in response.json()["message"]
    assert not Presign.objects.exists()


def test_archived_files_are_refused_with_their_list(
    curator_client: APIClient, package: Package
) -> None:
    archived = sorted(SMALL)[0]
    PackageFile.objects.filter(package=package, relative_path=archived).update(
        storage_class="DEEP_ARCHIVE", restore_state=""
    )

    response = curator_client.post(presign_url(package))

    assert response.status_code == 409
    body = response.json()
    assert "1 file(s)" in body["message"] and "archive" in body["message"]
    assert body["details"] == {"archivedFileCount": 1, "archivedFiles": [archived]}
    assert not Presign.objects.exists()

    PackageFile.objects.filter(package=package, relative_path=archived).update(
        restore_state="restored"
    )
    assert curator_client.post(presign_url(package)).status_code == 201


@pytest.mark.parametrize(
    "bad_path",
    ["../escape.txt", "/etc/passwd", "a/./b", "a//b", "tab\there", ".datasharing-download/x"],
)
def test_unsafe_relative_paths_are_refused_naming_them(
    curator_client: APIClient, package: Package, bad_path: str
) -> None:
    row = PackageFile.objects.filter(package=package).first()
    assert row is not None
    row.relative_path = bad_path
    row.save()

    response = curator_client.post(presign_url(package))

    assert response.status_code == 409
    assert bad_path in response.json()["details"]["paths"]
    assert not Presign.objects.exists()


def test_file_that_is_also_a_folder_is_refused(curator_client: APIClient, package: Package) -> None:
    first, second = PackageFile.objects.filter(package=package).order_by("relative_path")
    first.relative_path = "data/a"
    first.save()
    second.relative_path = "data/a/b"
    second.save()

    response = curator_client.post(presign_url(package))

    assert response.status_code == 409
    assert response.json()["details"]["paths"] == {
        "data/a": "is both a file and a folder of other files"
    }


@pytest.mark.parametrize("expiry", [0, -1, "soon", 7 * 24 * 3600 + 1, 10**12])
def test_bad_expiry_is_400_and_creates_nothing(
    curator_client: APIClient, package: Package, expiry: Any
) -> None:
    response = curator_client.post(
        presign_url(package), {"fileUrlExpirySeconds": expiry}, format="json"
    )

    assert response.status_code == 400, response.json()
    assert (
        "fileUrlExpirySeconds" in response.json()["message"]
        or "file_url_expiry_seconds" in response.json()["message"]
    )
    assert not Presign.objects.exists()


def test_expiry_above_the_configured_maximum_is_400(
    curator_client: APIClient, package: Package, settings: Any
) -> None:
    settings.PRESIGN_FILE_URL_MAX_EXPIRY_SECONDS = 3600

    refused = curator_client.post(
        presign_url(package), {"fileUrlExpirySeconds": 3601}, format="json"
    )
    assert refused.status_code == 400
    assert "between 900 and 3600" in refused.json()["message"]
    # The default is capped to the configured maximum.
    default = curator_client.post(presign_url(package))
    assert default.status_code == 201
    assert default.json()["fileUrlExpirySeconds"] == 3600


def test_malformed_json_body_is_400(curator_client: APIClient, package: Package) -> None:
    response = curator_client.generic(
        "POST", presign_url(package), "{not json", content_type="application/json"
    )
    assert response.status_code == 400


# --- Records ------------------------------------------------------------------------------------


def test_presigns_are_listed_newest_first_paginated_and_filtered(
    curator_client: APIClient,
    admin_client_api: APIClient,
    viewer_client: APIClient,
    curator: Any,
    package: Package,
) -> None:
    other = make_download_package(user=curator, contents=SMALL, name="PRJ-other")
    first = curator_client.post(presign_url(package)).json()
    second = admin_client_api.post(presign_url(other)).json()
    third = curator_client.post(presign_url(package)).json()

    listing = viewer_client.get("/api/v1/presign", {"rowsPerPage": 2})
    assert listing.status_code == 200
    body = listing.json()
    assert [row["id"] for row in body["results"]] == [third["id"], second["id"]]
    assert body["pagination"] == {"page": 1, "rowsPerPage": 2, "count": 3}
    assert "scriptUrl" not in body["results"][0]
    page_two = viewer_client.get(body["links"]["next"]).json()
    assert [row["id"] for row in page_two["results"]] == [first["id"]]

    by_package = viewer_client.get("/api/v1/presign", {"packageId": package.id}).json()
    assert [row["id"] for row in by_package["results"]] == [third["id"], first["id"]]
    by_user = viewer_client.get("/api/v1/presign", {"createdBy": "ada-admin"}).json()
    assert [row["id"] for row in by_user["results"]] == [second["id"]]
    after = viewer_client.get("/api/v1/presign", {"createdAfter": third["createdAt"]}).json()
    assert [row["id"] for row in after["results"]] == [third["id"]]

    of_package = viewer_client.get(f"/api/v1/package/{other.id}/presigns")
    assert of_package.status_code == 200
    assert [row["id"] for row in of_package.json()["results"]] == [second["id"]]

    detail = viewer_client.get(f"/api/v1/presign/{first['id']}")
    assert detail.status_code == 200
    assert detail.json()["createdBy"] == "cora-curator"
    assert detail.json()["fileUrlsExpireAt"] == first["fileUrlsExpireAt"]
    assert (
        viewer_client.get(f"/api/v1/presign/{first['id'].removeprefix('prs.')}").status_code == 200
    )


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/api/v1/presign?packageId=nonsense", 400),
        ("/api/v1/presign?createdAfter=yesterday", 400),
        ("/api/v1/presign?rowsPerPage=0", 400),
        ("/api/v1/presign/prs.01JD5V7Q3S8K2M4N6P8R0T2V4X", 404),
        ("/api/v1/presign/pkg.01JD5V7Q3S8K2M4N6P8R0T2V4X", 404),
        ("/api/v1/package/pkg.01JD5V7Q3S8K2M4N6P8R0T2V4X/presigns", 404),
    ],
)
def test_bad_list_queries_and_unknown_ids(viewer_client: APIClient, path: str, status: int) -> None:
    response = viewer_client.get(path)
    assert response.status_code == status
    assert response.json()["message"]


def test_stranger_cannot_read_presign_records(stranger_client: APIClient) -> None:
    assert stranger_client.get("/api/v1/presign").status_code == 403


def test_records_outlive_the_package(
    curator_client: APIClient, viewer_client: APIClient, package: Package
) -> None:
    presign_id = curator_client.post(presign_url(package)).json()["id"]

    Package.objects.filter(id=package.id).delete()

    listing = viewer_client.get("/api/v1/presign", {"packageId": package.id}).json()
    assert [row["id"] for row in listing["results"]] == [presign_id]
    assert listing["results"][0]["packageName"] == "PRJ-small"


def test_admin_shows_presigns_read_only(curator_client: APIClient, package: Package) -> None:
    admin_client = Client()
    admin_client.force_login(User.objects.create_superuser("root", password=None))
    presign_id = curator_client.post(presign_url(package)).json()["id"]
    Package.objects.filter(id=package.id).delete()

    changelist = admin_client.get("/admin/sharing_app/presign/")
    assert changelist.status_code == 200
    assert presign_id in changelist.content.decode()
    detail = admin_client.get(f"/admin/sharing_app/presign/{presign_id}/change/")
    assert detail.status_code == 200
    assert "cora-curator" in detail.content.decode()
    assert admin_client.get("/admin/sharing_app/presign/add/").status_code == 403
    assert admin_client.post(f"/admin/sharing_app/presign/{presign_id}/delete/").status_code == 403
    assert Presign.objects.filter(id=presign_id).exists()


def test_script_carries_the_manifest_stored_with_the_package(
    curator_client: APIClient, package: Package
) -> None:
    package_artifacts_write(package=package)
    stored = s3.get_object_bytes("datasharing-artifacts", package.manifest_key).decode()
    s3.put_object(
        "datasharing-artifacts", package.manifest_key, b"relative_path\tnote\nas stored\t1\n"
    )

    body = curator_client.post(presign_url(package)).json()

    script = s3.get_object_bytes(*body["scriptUri"][len("s3://") :].split("/", 1)).decode()
    assert "\nrelative_path\tnote\nas stored\t1\nDATASHARING_END_OF_MANIFEST\n" in script
    # Without the stored object the manifest is rendered from the frozen rows.
    s3.delete_prefix("datasharing-artifacts", package.manifest_key)
    body = curator_client.post(presign_url(package)).json()
    script = s3.get_object_bytes(*body["scriptUri"][len("s3://") :].split("/", 1)).decode()
    assert f"\n{stored}DATASHARING_END_OF_MANIFEST\n" in script
