"""Presigning: download scripts of presigned URLs for a package (services and selectors).

`package_presign` runs inside the request: the URLs are signed locally (`s3.presigned_get_urls`),
so 50,000 files take about a second, far under the HTTP timeout (see bench/bench_presign.py).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import re
import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.db.models import QuerySet
from django.utils import timezone

from datasharing import s3
from datasharing.errors import Conflict, DomainError, NotFound
from datasharing.ids import normalize_id
from packages_app.models import Package, PackageFile
from packages_app.report.artifacts import manifest_tsv
from packages_app.selectors import package_archived_files, package_require_shareable
from sharing_app.presign.models import Presign, new_presign_id
from sharing_app.presign.script import (
    ScriptFile,
    ScriptHeader,
    check_relative_paths,
    render_download_script,
)

logger = logging.getLogger(__name__)

_MAX_LISTED_ARCHIVED = 1000
_MD5_RE = re.compile(r"^[0-9a-f]{32}$")


@dataclass(frozen=True)
class PresignResult:
    presign: Presign
    # A credential: returned to the caller once, never stored.
    script_url: str
    warnings: list[str]


def script_name(package: Package) -> str:
    return f"download-data.{package.package_name}.sh"


def presign_file_url_expiry_limit() -> int:
    """The longest file URL lifetime a caller may ask for (setting, at most SigV4's 7 days)."""
    return min(int(settings.PRESIGN_FILE_URL_MAX_EXPIRY_SECONDS), s3.SIGV4_MAX_EXPIRES_IN)


def _require_no_archived_files(package: Package) -> None:
    archived = package_archived_files(package=package)
    if archived:
        raise Conflict(
            f"{len(archived)} file(s) of package {package.id} are in an archive storage class "
            "and not restored, so they cannot be downloaded; restore them (package again with "
            "defrostArchivedFastqs) or leave them out.",
            details={
                "archived_file_count": len(archived),
                "archived_files": archived[:_MAX_LISTED_ARCHIVED],
            },
        )


def md5_of(*, md5: str, etag: str) -> str:
    """The MD5 the script checks: the recorded one, else a single-part upload's ETag (the same
    rule as packages_app.report.artifacts.file_md5, on plain values)."""
    if md5:
        return md5.lower()
    return etag.lower() if _MD5_RE.fullmatch(etag.lower()) else ""


def _package_manifest(package: Package) -> str:
    """The manifest stored with the package (what the recipient of a push gets too), rendered
    from the frozen rows when it was not written."""
    if package.manifest_key:
        try:
            return s3.get_object_bytes(settings.ARTIFACT_BUCKET, package.manifest_key).decode()
        except s3.S3_ERRORS as exc:
            if not s3.is_not_found(exc):
                raise
    return manifest_tsv(package=package)


def package_presign(
    *, package: Package, user: User, file_url_expiry_seconds: int | None = None
) -> PresignResult:
    """Write `download-data.<packageName>.sh` under the package's prefix and record it.

    The script is stored per presign (`<package prefix>/presigns/<presign id>/`), so an earlier
    script URL keeps serving exactly the script its record describes. Refuses with 409 unless the
    package is SUCCEEDED and unexpired and none of its files sits unrestored in an archive tier.
    """
    started = time.monotonic()
    created_at = timezone.now()
    expiry = _file_url_expiry(file_url_expiry_seconds)
    package_require_shareable(package=package)
    _require_no_archived_files(package)

    rows = _presign_files(package)
    signed = s3.presigned_get_urls([(row[5], row[6]) for row in rows], expires_in=expiry)
    presign_id = new_presign_id()
    script = _download_script(
        package,
        presign_id=presign_id,
        created_at=created_at,
        files=rows,
        urls=signed.urls,
        urls_expire_at=signed.expires_at,
    )
    bucket = settings.ARTIFACT_BUCKET
    key = s3.artifact_key(package.id, "presigns", presign_id, script_name(package))
    s3.ensure_bucket(bucket)
    s3.put_object(bucket, key, script, content_type="text/x-shellscript; charset=utf-8")
    now = timezone.now().replace(microsecond=0)
    script_expiry = _script_url_expiry(urls_expire_at=signed.expires_at, now=now)
    script_url = s3.presigned_get_url(bucket, key, expires_in=script_expiry)

    presign = Presign.objects.create(
        id=presign_id,
        package=package,
        package_name=package.package_name,
        created_by=user if getattr(user, "is_authenticated", False) else None,
        created_at=created_at,
        file_url_expiry_seconds=expiry,
        file_urls_expire_at=signed.expires_at,
        script_url_expires_at=min(now + dt.timedelta(seconds=script_expiry), signed.expires_at),
        file_count=len(rows),
        total_bytes=sum(row.size for row in rows),
        script_bucket=bucket,
        script_key=key,
        script_bytes=len(script),
        script_sha256=hashlib.sha256(script).hexdigest(),
        signer=signed.signer,
        duration_ms=int((time.monotonic() - started) * 1000),
    )
    logger.info(
        "presign %s: package %s, %d files, signer %s, %d ms",
        presign.id,
        package.id,
        presign.file_count,
        presign.signer,
        presign.duration_ms,
    )
    return PresignResult(
        presign=presign,
        script_url=script_url,
        warnings=_signer_warnings(credentials_expire_at=signed.credentials_expire_at),
    )


def _file_url_expiry(requested: int | None) -> int:
    """The file URL lifetime: the one asked for, else the setting (within the limits). Below
    PRESIGN_FILE_URL_MIN_EXPIRY_SECONDS a script would expire before anyone could run it."""
    limit = presign_file_url_expiry_limit()
    if requested is None:
        return min(int(settings.PRESIGN_FILE_URL_EXPIRY_SECONDS), limit)
    minimum = min(int(settings.PRESIGN_FILE_URL_MIN_EXPIRY_SECONDS), limit)
    if not minimum <= requested <= limit:
        reason = (
            " (download URLs shorter than that expire before the script is run)"
            if requested < minimum
            else ""
        )
        raise DomainError(
            f"fileUrlExpirySeconds must be between {minimum} and {limit} seconds{reason}.",
            details={"file_url_expiry_seconds": requested, "minimum": minimum, "maximum": limit},
        )
    return requested


def _presign_files(package: Package) -> list[Any]:
    """The package's files as named rows (relative_path, size, md5, sha256, etag, source_bucket,
    source_key), by relative path in byte order: --print-tree relies on folders being contiguous,
    which the database collation does not promise."""
    # Tuples, not model instances: 50,000 rows load in a fraction of the time.
    rows: list[Any] = list(
        PackageFile.objects.filter(package=package).values_list(
            "relative_path",
            "size",
            "md5",
            "sha256",
            "etag",
            "source_bucket",
            "source_key",
            named=True,
        )
    )
    rows.sort(key=lambda row: row.relative_path)
    check_relative_paths([row.relative_path for row in rows])
    return rows


def _download_script(
    package: Package,
    *,
    presign_id: str,
    created_at: dt.datetime,
    files: list[Any],
    urls: list[str],
    urls_expire_at: dt.datetime,
) -> bytes:
    """The download script: one presigned URL per file, with its size and checksums."""
    return render_download_script(
        header=ScriptHeader(
            package_id=package.id,
            package_name=package.package_name,
            presign_id=presign_id,
            generated_at=created_at,
            urls_expire_at=urls_expire_at,
        ),
        files=[
            ScriptFile(
                relative_path=file.relative_path,
                size=file.size,
                md5=md5_of(md5=file.md5, etag=file.etag),
                sha256=file.sha256.lower(),
                url=url,
            )
            for file, url in zip(files, urls, strict=True)
        ],
        manifest_tsv=_package_manifest(package),
    ).encode()


def _script_url_expiry(*, urls_expire_at: dt.datetime, now: dt.datetime) -> int:
    """Seconds the script URL lives: it does not outlive the file URLs inside it (give or take
    the second it is signed in: a URL needs at least one second)."""
    return max(
        1,
        min(
            int(settings.PRESIGN_SCRIPT_URL_EXPIRY_SECONDS),
            int((urls_expire_at - now).total_seconds()),
            s3.SIGV4_MAX_EXPIRES_IN,
        ),
    )


def _signer_warnings(*, credentials_expire_at: dt.datetime | None) -> list[str]:
    if credentials_expire_at is None:
        return []
    return [
        "The server signs with temporary credentials that expire at "
        f"{credentials_expire_at.isoformat()}; the URLs stop working then. Configure "
        "PRESIGN_AWS_ACCESS_KEY_ID / PRESIGN_AWS_SECRET_ACCESS_KEY for the full lifetime."
    ]


# --- Selectors ----------------------------------------------------------------------------------


def presign_list(
    *,
    package_ids: list[str] | None = None,
    created_by: list[str] | None = None,
    created_after: dt.datetime | None = None,
    created_before: dt.datetime | None = None,
) -> QuerySet[Presign]:
    """Presigns, newest first; filters combine with AND, values within one filter with OR."""
    presigns = Presign.objects.select_related("created_by").order_by("-created_at", "-id")
    if package_ids:
        presigns = presigns.filter(package_id__in=[_filter_id(value) for value in package_ids])
    if created_by:
        presigns = presigns.filter(created_by__username__in=created_by)
    if created_after:
        presigns = presigns.filter(created_at__gte=created_after)
    if created_before:
        presigns = presigns.filter(created_at__lt=created_before)
    return presigns


def _filter_id(value: str) -> str:
    try:
        return normalize_id(value, prefix="pkg")
    except DomainError:
        raise DomainError(f"packageId {value!r} is not a package id.") from None


def presign_get(*, presign_id: str) -> Presign:
    normalized = normalize_id(presign_id, prefix="prs")
    try:
        return Presign.objects.select_related("created_by").get(id=normalized)
    except Presign.DoesNotExist:
        raise NotFound(f"No presign with id {presign_id!r}.") from None
