"""What a push writes in the destination besides the package's files.

- Before any copy: a write check (an object written, read back, listed and deleted), then the
  start marker `datasharing-push.started.json` (and any end marker of an earlier push removed).
- After every file is verified: `manifest.tsv`, `checksums.md5` and the package report (when it
  has one), copied from the package's artifacts.
- Last: the end marker `datasharing-push.completed.json` with the final status and counts.
  Recipients can wait for it: it is written only once everything else is in place.
"""

from __future__ import annotations

import contextlib
import json
import logging
import posixpath
from typing import Any, Protocol

from django.conf import settings
from django.utils import timezone

from datasharing import s3
from datasharing.errors import DomainError
from packages_app.models import Package
from packages_app.report.artifacts import package_artifacts_write
from sharing_app.push.models import PushJob

logger = logging.getLogger(__name__)

MANIFEST_NAME = "manifest.tsv"
CHECKSUMS_NAME = "checksums.md5"
START_MARKER = "datasharing-push.started.json"
END_MARKER = "datasharing-push.completed.json"
RESERVED_NAMES = frozenset({MANIFEST_NAME, CHECKSUMS_NAME, START_MARKER, END_MARKER})


class DestinationWriter(Protocol):
    """Writes small objects at names relative to the destination folder."""

    label: str

    def is_empty(self) -> bool: ...

    def put(self, name: str, body: bytes, content_type: str) -> None: ...

    def delete(self, name: str) -> None: ...

    def copy_artifact(self, artifact_key: str, name: str) -> None: ...

    def write_check(self, job_id: str) -> None: ...


def _check_failed(label: str, action: str, exc: BaseException) -> DomainError:
    return DomainError(
        f"Write check failed for {label}: could not {action} ({s3.error_code(exc)}: {exc}). "
        "Nothing was copied."
    )


class S3Writer:
    def __init__(self, bucket: str, prefix: str) -> None:
        self.bucket = bucket
        self.prefix = prefix
        self.label = f"s3://{bucket}/{prefix}"

    def is_empty(self) -> bool:
        return s3.prefix_is_empty(self.bucket, self.prefix)

    def put(self, name: str, body: bytes, content_type: str) -> None:
        s3.put_object(
            self.bucket,
            self.prefix + name,
            body,
            content_type=content_type,
            acl=settings.PUSH_S3_ACL,
        )

    def delete(self, name: str) -> None:
        s3.delete_object(self.bucket, self.prefix + name)

    def copy_artifact(self, artifact_key: str, name: str) -> None:
        s3.copy_object(
            source_bucket=settings.ARTIFACT_BUCKET,
            source_key=artifact_key,
            bucket=self.bucket,
            key=self.prefix + name,
            acl=settings.PUSH_S3_ACL,
        )

    def write_check(self, job_id: str) -> None:
        """Write, read back, list and delete a small object: proves we can copy and verify."""
        key = f"{self.prefix}.datasharing-write-check-{job_id}"
        body = f"datasharing write check for push {job_id}\n".encode()
        try:
            s3.put_object(
                self.bucket, key, body, content_type="text/plain", acl=settings.PUSH_S3_ACL
            )
        except s3.S3_ERRORS as exc:
            raise _check_failed(self.label, "write an object", exc) from exc
        try:
            info = s3.head_object(self.bucket, key)
            listed = list(
                s3.list_objects_range(self.bucket, prefix=key, first_key=key, last_key=key)
            )
        except s3.S3_ERRORS as exc:
            raise _check_failed(
                self.label,
                "read back what we wrote (verification needs s3:GetObject and s3:ListBucket)",
                exc,
            ) from exc
        if info is None or info.size != len(body) or not listed:
            raise DomainError(
                f"Write check failed for {self.label}: an object we wrote could not be read back."
            )
        try:
            s3.delete_object(self.bucket, key)
        except s3.S3_ERRORS as exc:  # write-only policies are fine; the marker is harmless
            logger.warning("Could not delete the write-check object %s: %s", key, exc)


class Icav2Writer:
    """Writes into an ICAv2 folder through the folder's temporary S3 credentials."""

    def __init__(self, s3_client: Any, bucket: str, object_prefix: str, label: str) -> None:
        self.s3_client = s3_client
        self.bucket = bucket
        self.prefix = object_prefix
        self.label = label

    def is_empty(self) -> bool:
        return s3.prefix_is_empty(self.bucket, self.prefix, s3_client=self.s3_client)

    def put(self, name: str, body: bytes, content_type: str) -> None:
        s3.put_object(
            self.bucket,
            self.prefix + name,
            body,
            content_type=content_type,
            s3_client=self.s3_client,
        )

    def delete(self, name: str) -> None:
        s3.delete_object(self.bucket, self.prefix + name, s3_client=self.s3_client)

    def copy_artifact(self, artifact_key: str, name: str) -> None:
        stream = s3.open_object_stream(settings.ARTIFACT_BUCKET, artifact_key)
        try:
            s3.upload_stream(
                stream,
                s3_client=self.s3_client,
                bucket=self.bucket,
                key=self.prefix + name,
                multipart_threshold=settings.ICAV2_MULTIPART_THRESHOLD,
                part_size=settings.ICAV2_PART_SIZE,
                concurrency=1,
            )
        finally:
            stream.close()

    def write_check(self, job_id: str) -> None:
        key = f"{self.prefix}.datasharing-write-check-{job_id}"
        body = f"datasharing write check for push {job_id}\n".encode()
        try:
            s3.put_object(
                self.bucket, key, body, content_type="text/plain", s3_client=self.s3_client
            )
            info = s3.head_object_with(self.s3_client, self.bucket, key)
        except s3.S3_ERRORS as exc:
            raise _check_failed(self.label, "write and read back an object", exc) from exc
        if info is None or info.size != len(body):
            raise DomainError(
                f"Write check failed for {self.label}: an object we wrote could not be read back."
            )
        with contextlib.suppress(*s3.S3_ERRORS):
            s3.delete_object(self.bucket, key, s3_client=self.s3_client)


def _marker(job: PushJob, **extra: Any) -> bytes:
    body = {
        "pushJobId": job.id,
        "packageId": job.package_id,
        "packageName": job.package_name,
        "shareDestination": job.share_destination,
        "requestedBy": job.requested_by_name,
        "fileCount": job.file_count,
        "totalBytes": job.total_bytes,
        "startTime": job.start_time.isoformat() if job.start_time else None,
        **extra,
    }
    return (json.dumps(body, indent=2) + "\n").encode()


def write_start_marker(writer: DestinationWriter, job: PushJob) -> None:
    with contextlib.suppress(*s3.S3_ERRORS):
        writer.delete(END_MARKER)
    writer.put(START_MARKER, _marker(job, status="RUNNING"), "application/json")


def write_end_marker(writer: DestinationWriter, job: PushJob) -> None:
    body = _marker(
        job,
        status=job.status,
        completionTime=(job.completion_time or timezone.now()).isoformat(),
        succeededCount=job.succeeded_count,
        skippedCount=job.skipped_count,
        failedCount=job.failed_count,
        errorMessage=job.error_message,
        receipts=[MANIFEST_NAME, CHECKSUMS_NAME],
    )
    writer.put(END_MARKER, body, "application/json")


def write_receipts(writer: DestinationWriter, package: Package) -> list[str]:
    """Copy the manifest, checksums and report of the package next to its files; returns the
    names written. Artifacts missing from the artifact bucket are written first."""
    if not package.manifest_key or not package.checksums_key:
        package_artifacts_write(package=package)
    names = []
    try:
        for key, name in (
            (package.manifest_key, MANIFEST_NAME),
            (package.checksums_key, CHECKSUMS_NAME),
        ):
            writer.copy_artifact(key, name)
            names.append(name)
    except s3.S3_ERRORS as exc:
        if not s3.is_not_found(exc):
            raise
        package_artifacts_write(package=package)
        for key, name in (
            (package.manifest_key, MANIFEST_NAME),
            (package.checksums_key, CHECKSUMS_NAME),
        ):
            writer.copy_artifact(key, name)
            names.append(name)
    for key in (package.report_html_key, package.report_pdf_key):
        if key:
            name = posixpath.basename(key)
            writer.copy_artifact(key, name)
            names.append(name)
    return sorted(set(names))
