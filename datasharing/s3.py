"""The one module that talks to S3 through boto3. Everything else uses these functions and the
dataclasses they return.

Works against AWS S3 (default credential chain) and S3-compatible stores (`AWS_ENDPOINT_URL_S3`,
path-style addressing). ETags are returned without quotes whatever the server sends (SeaweedFS
omits them, AWS quotes them).
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings

from datasharing.errors import DomainError

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

ARCHIVED_STORAGE_CLASSES = frozenset({"GLACIER", "DEEP_ARCHIVE"})
# Instant-retrieval and intelligent tiering tiers are readable without a restore.
_BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_RESTORE_RE = re.compile(
    r'ongoing-request="(?P<ongoing>true|false)"(?:,\s*expiry-date="(?P<expiry>[^"]+)")?'
)


@dataclass(frozen=True)
class S3Uri:
    bucket: str
    key: str

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    def child(self, relative_key: str) -> S3Uri:
        base = self.key if not self.key or self.key.endswith("/") else self.key + "/"
        return S3Uri(self.bucket, base + relative_key.lstrip("/"))


@dataclass(frozen=True)
class ObjectInfo:
    bucket: str
    key: str
    size: int
    etag: str
    storage_class: str
    last_modified: dt.datetime | None
    # None: never restored; "ongoing": restore in progress; "restored": readable copy exists.
    restore_state: str | None = None
    restore_expiry: str | None = None
    checksum_sha256: str | None = None

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    @property
    def is_archived(self) -> bool:
        return self.storage_class in ARCHIVED_STORAGE_CLASSES

    @property
    def needs_restore(self) -> bool:
        return self.is_archived and self.restore_state != "restored"


def bucket_name_is_valid(bucket: str) -> bool:
    return bool(_BUCKET_RE.match(bucket)) and ".." not in bucket


def parse_s3_uri(uri: str, *, require_key: bool = False) -> S3Uri:
    """Parse `s3://bucket/key`; reject anything that is not a plain bucket and a safe key."""
    if not isinstance(uri, str) or not uri.startswith("s3://"):
        raise DomainError(f"Not an S3 URI: {uri!r} (expected s3://bucket/prefix).")
    rest = uri[len("s3://") :]
    bucket, _, key = rest.partition("/")
    if not bucket_name_is_valid(bucket):
        raise DomainError(f"Invalid S3 bucket name in {uri!r}.")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in key):
        raise DomainError(f"S3 key in {uri!r} contains control characters.")
    if any(part in {".", ".."} for part in key.split("/")):
        raise DomainError(f"S3 key in {uri!r} contains '.' or '..' segments.")
    if require_key and not key:
        raise DomainError(f"S3 URI {uri!r} names a bucket but no object.")
    return S3Uri(bucket, key)


def normalize_etag(etag: str | None) -> str:
    return (etag or "").strip().strip('"')


def _parse_restore(header: str | None) -> tuple[str | None, str | None]:
    if not header:
        return None, None
    match = _RESTORE_RE.search(header)
    if not match:
        return None, None
    if match.group("ongoing") == "true":
        return "ongoing", None
    return "restored", match.group("expiry")


@functools.lru_cache(maxsize=8)
def _client(
    endpoint_url: str | None,
    region: str,
    max_attempts: int,
    pool: int,
    timeout: float | None = None,
) -> S3Client:
    config = Config(
        region_name=region,
        signature_version="s3v4",
        retries={
            "max_attempts": max_attempts,
            "mode": "adaptive" if max_attempts > 1 else "standard",
        },
        connect_timeout=timeout or settings.S3_CONNECT_TIMEOUT,
        read_timeout=timeout or settings.S3_READ_TIMEOUT,
        max_pool_connections=pool,
        s3={"addressing_style": "path" if endpoint_url else "auto"},
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )
    session = boto3.session.Session()
    return session.client("s3", endpoint_url=endpoint_url, config=config)


def client() -> S3Client:
    """A shared, thread-safe S3 client for the configured endpoint."""
    return _client(
        settings.AWS_ENDPOINT_URL_S3,
        settings.AWS_REGION,
        settings.S3_MAX_ATTEMPTS,
        settings.S3_MAX_POOL_CONNECTIONS,
    )


def bucket_is_reachable(bucket: str) -> None:
    """Raise unless `bucket` answers within a few seconds (one attempt; for health checks)."""
    _client(settings.AWS_ENDPOINT_URL_S3, settings.AWS_REGION, 1, 2, 3.0).head_bucket(Bucket=bucket)


def error_code(exc: BaseException) -> str:
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", ""))
    return type(exc).__name__


def is_not_found(exc: BaseException) -> bool:
    return error_code(exc) in {"404", "NoSuchKey", "NotFound", "NoSuchBucket"}


S3_ERRORS = (ClientError, BotoCoreError)


def _object_from_head(bucket: str, key: str, head: dict[str, Any]) -> ObjectInfo:
    state, expiry = _parse_restore(head.get("Restore"))
    return ObjectInfo(
        bucket=bucket,
        key=key,
        size=int(head.get("ContentLength", 0)),
        etag=normalize_etag(head.get("ETag")),
        storage_class=head.get("StorageClass") or "STANDARD",
        last_modified=head.get("LastModified"),
        restore_state=state,
        restore_expiry=expiry,
        checksum_sha256=head.get("ChecksumSHA256"),
    )


def head_object(bucket: str, key: str) -> ObjectInfo | None:
    """Metadata of one object, or None when it does not exist."""
    try:
        head = client().head_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        if is_not_found(exc):
            return None
        raise
    return _object_from_head(bucket, key, dict(head))


def list_objects(bucket: str, prefix: str = "") -> Iterator[ObjectInfo]:
    """Every object under `prefix`, one paginated listing (no HEAD per object)."""
    paginator = client().get_paginator("list_objects_v2")
    kwargs: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix}
    if not settings.AWS_ENDPOINT_URL_S3:
        # AWS only: ask for restore state in the listing itself.
        kwargs["OptionalObjectAttributes"] = ["RestoreStatus"]
    for page in paginator.paginate(**kwargs):
        for item in page.get("Contents", []):
            restore = item.get("RestoreStatus") or {}
            state: str | None = None
            if restore:
                state = "ongoing" if restore.get("IsRestoreInProgress") else "restored"
            expiry = restore.get("RestoreExpiryDate")
            yield ObjectInfo(
                bucket=bucket,
                key=item["Key"],
                size=int(item.get("Size", 0)),
                etag=normalize_etag(item.get("ETag")),
                storage_class=item.get("StorageClass") or "STANDARD",
                last_modified=item.get("LastModified"),
                restore_state=state,
                restore_expiry=expiry.isoformat() if isinstance(expiry, dt.datetime) else None,
            )


def ensure_bucket(bucket: str) -> None:
    s3 = client()
    try:
        s3.head_bucket(Bucket=bucket)
        return
    except ClientError as exc:
        if not is_not_found(exc) and error_code(exc) not in {"403", "400"}:
            raise
    kwargs: dict[str, Any] = {"Bucket": bucket}
    if settings.AWS_REGION != "us-east-1" and not settings.AWS_ENDPOINT_URL_S3:
        kwargs["CreateBucketConfiguration"] = {"LocationConstraint": settings.AWS_REGION}
    try:
        s3.create_bucket(**kwargs)
    except ClientError as exc:
        if error_code(exc) not in {"BucketAlreadyOwnedByYou", "BucketAlreadyExists"}:
            raise


def put_object(
    bucket: str,
    key: str,
    body: bytes,
    *,
    content_type: str = "application/octet-stream",
    storage_class: str | None = None,
) -> str:
    """Write an object; returns its ETag (unquoted)."""
    kwargs: dict[str, Any] = {
        "Bucket": bucket,
        "Key": key,
        "Body": body,
        "ContentType": content_type,
    }
    if storage_class:
        kwargs["StorageClass"] = storage_class
    response = client().put_object(**kwargs)
    return normalize_etag(response.get("ETag"))


def get_object_bytes(bucket: str, key: str) -> bytes:
    return client().get_object(Bucket=bucket, Key=key)["Body"].read()


def open_object_stream(bucket: str, key: str) -> Any:
    """A streaming body (file-like, `.read(n)`, `.iter_chunks()`); caller closes it."""
    return client().get_object(Bucket=bucket, Key=key)["Body"]


def delete_prefix(bucket: str, prefix: str) -> int:
    """Delete every object under `prefix`; returns how many were deleted."""
    if not prefix:
        raise ValueError("Refusing to delete a whole bucket.")
    s3 = client()
    deleted = 0
    batch: list[dict[str, str]] = []
    for obj in list_objects(bucket, prefix):
        batch.append({"Key": obj.key})
        if len(batch) == 1000:
            s3.delete_objects(Bucket=bucket, Delete={"Objects": batch, "Quiet": True})  # type: ignore[typeddict-item]
            deleted += len(batch)
            batch = []
    if batch:
        s3.delete_objects(Bucket=bucket, Delete={"Objects": batch, "Quiet": True})  # type: ignore[typeddict-item]
        deleted += len(batch)
    return deleted


def restore_object(bucket: str, key: str, *, days: int, tier: str) -> str:
    """Ask S3 to thaw an archived object. Returns "requested", "in-progress" or "restored"."""
    try:
        client().restore_object(
            Bucket=bucket,
            Key=key,
            RestoreRequest={"Days": days, "GlacierJobParameters": {"Tier": tier}},  # type: ignore[typeddict-item]
        )
    except ClientError as exc:
        if error_code(exc) == "RestoreAlreadyInProgress":
            return "in-progress"
        raise
    return "requested"


def presigned_get_url(bucket: str, key: str, *, expires_in: int) -> str:
    return client().generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=expires_in
    )


def artifact_key(*parts: str) -> str:
    """Key under the artifact prefix, e.g. artifact_key(package_id, "manifest.tsv")."""
    cleaned = [p.strip("/") for p in parts if p.strip("/")]
    prefix = settings.ARTIFACT_PREFIX
    return "/".join([prefix, *cleaned] if prefix else cleaned)


@dataclass(frozen=True)
class ObjectStream:
    """An open GET of one object: read `body` (`.iter_chunks()`), then close it."""

    body: Any
    size: int
    content_type: str


def open_object(bucket: str, key: str) -> ObjectStream | None:
    """Start reading an object; None when it does not exist. The caller closes `body`."""
    try:
        response = client().get_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        if is_not_found(exc):
            return None
        raise
    return ObjectStream(
        body=response["Body"],
        size=int(response.get("ContentLength", 0)),
        content_type=response.get("ContentType") or "application/octet-stream",
    )
