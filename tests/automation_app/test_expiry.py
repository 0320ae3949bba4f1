"""Beat: packages past their expiry lose their artifacts (report, manifest, download scripts),
and sharing an expired package is refused with 409."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.utils import timezone
from rest_framework.test import APIClient

from datasharing import s3
from packages_app.models import Package
from packages_app.services import packages_expire_artifacts
from tests.factories import make_frozen_package


def package_with_artifacts(bucket: str, name: str) -> Package:
    s3.put_object(bucket, "data/a.fastq.gz", b"reads")
    package = make_frozen_package(
        files=[(bucket, "data/a.fastq.gz", "fastq/a.fastq.gz")], name=name
    )
    s3.ensure_bucket(settings.ARTIFACT_BUCKET)
    keys = {
        "manifest_key": s3.artifact_key(package.id, "manifest.tsv"),
        "checksums_key": s3.artifact_key(package.id, "checksums.md5"),
        "report_html_key": s3.artifact_key(package.id, f"SummaryReport.{name}.html"),
    }
    for key in [*keys.values(), s3.artifact_key(package.id, "presigns", "p1", "download.sh")]:
        s3.put_object(settings.ARTIFACT_BUCKET, key, b"artifact")
    Package.objects.filter(id=package.id).update(**keys)
    package.refresh_from_db()
    return package


def artifacts(package: Package) -> list[str]:
    prefix = s3.artifact_key(package.id) + "/"
    return [obj.key for obj in s3.list_objects(settings.ARTIFACT_BUCKET, prefix)]


def test_expired_packages_lose_their_artifacts_and_cannot_be_shared(
    db: Any,
    bucket_factory: Callable[[str], str],
    curator_client: APIClient,
    allow_destination: Callable[[str], None],
) -> None:
    bucket = bucket_factory("expiry")
    allow_destination(f"s3://{bucket}/")
    expired = package_with_artifacts(bucket, "old-package")
    current = package_with_artifacts(bucket, "new-package")
    Package.objects.filter(id=expired.id).update(expires_at=timezone.now() - dt.timedelta(hours=1))
    assert len(artifacts(expired)) == 4

    assert packages_expire_artifacts() == 1
    assert packages_expire_artifacts() == 0

    assert artifacts(expired) == []
    expired.refresh_from_db()
    assert (expired.manifest_key, expired.checksums_key, expired.report_html_key) == ("", "", "")
    assert len(artifacts(current)) == 4
    current.refresh_from_db()
    assert current.manifest_key

    base = f"/api/v1/package/{expired.id}"
    push = curator_client.post(
        f"{base}:push", {"shareDestination": f"s3://{bucket}/x/"}, format="json"
    )
    presign = curator_client.post(f"{base}:presign", {}, format="json")
    report = curator_client.get(f"{base}:getSummaryReport")
    for response in (push, presign, report):
        assert response.status_code == 409, response.json()
        assert "expired" in response.json()["message"]
    assert curator_client.get(base).json()["hasExpired"] is True
