"""Report endpoints: `:getSummaryReport` (presigned URL, predecessor-compatible) and `/report`."""

from __future__ import annotations

import datetime as dt
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.utils import timezone
from rest_framework.test import APIClient

from datasharing import s3
from packages_app.models import Package, PackageStatus
from packages_app.report.artifacts import package_artifacts_write
from tests.packages_app.report.builders import freeze_demo_package, report_records

UNKNOWN = "pkg.01JAAAAAAAAAAAAAAAAAAAAAAA"


@pytest.fixture
def demo_package(demo_catalog: Path, curator: User) -> Package:
    """Frozen, artifacts not written yet (enough for every refusal)."""
    return freeze_demo_package(user=curator, library_ids=["L2400101", "L2400102", "L2400104"])


@pytest.fixture
def rendered_package(demo_package: Package) -> Package:
    package_artifacts_write(package=demo_package)
    demo_package.refresh_from_db()
    return demo_package


def streamed(response) -> bytes:  # type: ignore[no-untyped-def]
    return b"".join(response.streaming_content)


def test_get_summary_report_returns_a_presigned_url_string_like_the_predecessor(
    viewer_client: APIClient, rendered_package: Package
) -> None:
    response = viewer_client.get(f"/api/v1/package/{rendered_package.id}:getSummaryReport")
    assert response.status_code == 200, response.content
    url = response.json()
    assert isinstance(url, str)
    assert (
        rendered_package.report_html_key.replace("/", "%2F") in url
        or rendered_package.report_html_key in url
    )
    assert f"X-Amz-Expires={settings.REPORT_URL_EXPIRY_SECONDS}" in url
    with urllib.request.urlopen(url, timeout=10) as download:
        body = download.read()
        assert download.headers["Content-Type"].startswith("text/html")
    assert body == s3.get_object_bytes(settings.ARTIFACT_BUCKET, rendered_package.report_html_key)


def test_report_streams_html_through_the_api_in_a_sandbox(
    viewer_client: APIClient, rendered_package: Package
) -> None:
    response = viewer_client.get(f"/api/v1/package/{rendered_package.id}/report")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/html; charset=utf-8"
    assert response["Content-Disposition"] == 'inline; filename="SummaryReport.demo-report.html"'
    assert response["Content-Security-Policy"].startswith("sandbox allow-scripts")
    body = streamed(response)
    assert int(response["Content-Length"]) == len(body)
    assert body == s3.get_object_bytes(settings.ARTIFACT_BUCKET, rendered_package.report_html_key)
    assert len(report_records(body.decode(), "metadata")) == 3


def test_report_streams_the_pdf_and_can_ask_for_a_download(
    viewer_client: APIClient, rendered_package: Package
) -> None:
    response = viewer_client.get(f"/api/v1/package/{rendered_package.id}/report?format=pdf")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert streamed(response).startswith(b"%PDF-")
    download = viewer_client.get(
        f"/api/v1/package/{rendered_package.id}/report", {"format": "pdf", "download": "true"}
    )
    assert download["Content-Disposition"] == 'attachment; filename="SummaryReport.demo-report.pdf"'
    assert "Content-Security-Policy" not in download


def test_bare_ulid_is_accepted(viewer_client: APIClient, rendered_package: Package) -> None:
    ulid = rendered_package.id.removeprefix("pkg.")
    assert viewer_client.get(f"/api/v1/package/{ulid}/report").status_code == 200
    assert viewer_client.get(f"/api/v1/package/{ulid}:getSummaryReport").status_code == 200


def test_report_is_rendered_on_first_request_when_missing(
    viewer_client: APIClient, demo_catalog: Path
) -> None:
    package = freeze_demo_package(name="never-rendered", library_ids=["L2400104"])
    assert not package.report_html_key
    response = viewer_client.get(f"/api/v1/package/{package.id}/report?format=pdf")
    assert response.status_code == 200
    assert streamed(response).startswith(b"%PDF-")
    package.refresh_from_db()
    assert package.report_pdf_key.endswith("/SummaryReport.never-rendered.pdf")
    url = viewer_client.get(f"/api/v1/package/{package.id}:getSummaryReport").json()
    assert "SummaryReport.never-rendered.html" in url


@pytest.mark.parametrize("query", ["format=docx", "format=PDF5", "download=maybe"])
def test_bad_query_is_400(viewer_client: APIClient, demo_package: Package, query: str) -> None:
    response = viewer_client.get(f"/api/v1/package/{demo_package.id}/report?{query}")
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert response.json()["message"]


@pytest.mark.parametrize("suffix", [":getSummaryReport", "/report", "/report?format=pdf"])
def test_unknown_or_malformed_package_is_404(
    viewer_client: APIClient, db: None, suffix: str
) -> None:
    for package_id in (UNKNOWN, "pkg.not-a-ulid", "psh.01JAAAAAAAAAAAAAAAAAAAAAAA"):
        response = viewer_client.get(f"/api/v1/package/{package_id}{suffix}")
        assert response.status_code == 404, (package_id, response.content)
        assert response.json()["message"]


@pytest.mark.parametrize(
    "status",
    [PackageStatus.PENDING, PackageStatus.RUNNING, PackageStatus.FAILED, PackageStatus.ABORTED],
)
def test_unfinished_or_failed_package_is_409(
    viewer_client: APIClient, demo_package: Package, status: str
) -> None:
    Package.objects.filter(pk=demo_package.pk).update(status=status)
    for suffix in (":getSummaryReport", "/report", "/report?format=pdf"):
        response = viewer_client.get(f"/api/v1/package/{demo_package.id}{suffix}")
        assert response.status_code == 409
        assert status in response.json()["message"]


def test_expired_package_is_409(viewer_client: APIClient, demo_package: Package) -> None:
    Package.objects.filter(pk=demo_package.pk).update(
        expires_at=timezone.now() - dt.timedelta(minutes=1)
    )
    for suffix in (":getSummaryReport", "/report"):
        response = viewer_client.get(f"/api/v1/package/{demo_package.id}{suffix}")
        assert response.status_code == 409
        assert "expired" in response.json()["message"]


def test_anonymous_is_401_and_user_without_role_is_403(
    anon_client: APIClient, stranger_client: APIClient, demo_package: Package
) -> None:
    for suffix in (":getSummaryReport", "/report"):
        assert anon_client.get(f"/api/v1/package/{demo_package.id}{suffix}").status_code == 401
        assert stranger_client.get(f"/api/v1/package/{demo_package.id}{suffix}").status_code == 403


def test_admin_session_opens_the_report(
    client, admin_user: User, rendered_package: Package
) -> None:  # type: ignore[no-untyped-def]
    # The admin's links use the browser session (no token).
    client.force_login(admin_user)
    response = client.get(f"/api/v1/package/{rendered_package.id}/report")
    assert response.status_code == 200
    assert b"<!DOCTYPE html>" in b"".join(response.streaming_content)


def test_writes_are_not_allowed(curator_client: APIClient, demo_package: Package) -> None:
    for suffix in (":getSummaryReport", "/report"):
        assert curator_client.post(f"/api/v1/package/{demo_package.id}{suffix}").status_code == 405
