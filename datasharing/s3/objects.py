"""Single objects: metadata (HEAD), reads, writes and deletes.

ETags are returned without quotes whatever the server sends (SeaweedFS omits them, AWS quotes
them).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from datasharing.s3.clients import client
from datasharing.s3.errors import is_not_found
from datasharing.s3.etags import normalize_etag
from datasharing.s3.restore import ARCHIVED_STORAGE_CLASSES, parse_restore_header

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


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


@dataclass(frozen=True)
class ObjectStream:
    """An open GET of one object: read `body` (`.iter_chunks()`), then close it."""

    body: Any
    size: int
    content_type: str


def _object_from_head(bucket: str, key: str, head: dict[str, Any]) -> ObjectInfo:
    state, expiry = parse_restore_header(head.get("Restore"))
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
    return head_object_with(client(), bucket, key)


def head_object_with(s3_client: S3Client, bucket: str, key: str) -> ObjectInfo | None:
    try:
        head = s3_client.head_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        if is_not_found(exc):
            return None
        raise
    return _object_from_head(bucket, key, dict(head))


def head_object_sse(bucket: str, key: str, *, s3_client: S3Client | None = None) -> str:
    """The server-side encryption of an object ("" when none or unknown)."""
    try:
        head = (s3_client or client()).head_object(Bucket=bucket, Key=key)
    except ClientError:
        return ""
    return str(head.get("ServerSideEncryption") or "")


def put_object(
    bucket: str,
    key: str,
    body: bytes,
    *,
    content_type: str = "application/octet-stream",
    storage_class: str | None = None,
    acl: str = "",
    s3_client: S3Client | None = None,
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
    if acl:
        kwargs["ACL"] = acl
    response = (s3_client or client()).put_object(**kwargs)
    return normalize_etag(response.get("ETag"))


def get_object_bytes(bucket: str, key: str) -> bytes:
    return client().get_object(Bucket=bucket, Key=key)["Body"].read()


def open_object_stream(bucket: str, key: str) -> Any:
    """A streaming body (file-like, `.read(n)`, `.iter_chunks()`); caller closes it."""
    return client().get_object(Bucket=bucket, Key=key)["Body"]


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


def delete_object(bucket: str, key: str, *, s3_client: S3Client | None = None) -> None:
    (s3_client or client()).delete_object(Bucket=bucket, Key=key)
