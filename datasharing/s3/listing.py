"""Listings (ListObjectsV2, paginated) and what is done with them: ranges, emptiness checks,
deleting a prefix."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError
from django.conf import settings

from datasharing.s3.clients import client
from datasharing.s3.errors import error_code
from datasharing.s3.etags import normalize_etag
from datasharing.s3.objects import ObjectInfo

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


def _object_from_listing(bucket: str, item: Any) -> ObjectInfo:
    restore = item.get("RestoreStatus") or {}
    state: str | None = None
    if restore:
        state = "ongoing" if restore.get("IsRestoreInProgress") else "restored"
    expiry = restore.get("RestoreExpiryDate")
    return ObjectInfo(
        bucket=bucket,
        key=item["Key"],
        size=int(item.get("Size", 0)),
        etag=normalize_etag(item.get("ETag")),
        storage_class=item.get("StorageClass") or "STANDARD",
        last_modified=item.get("LastModified"),
        restore_state=state,
        restore_expiry=expiry.isoformat() if isinstance(expiry, dt.datetime) else None,
    )


def list_objects(bucket: str, prefix: str = "") -> Iterator[ObjectInfo]:
    """Every object under `prefix`, one paginated listing (no HEAD per object)."""
    paginator = client().get_paginator("list_objects_v2")
    kwargs: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix}
    if not settings.AWS_ENDPOINT_URL_S3:
        # AWS only: ask for restore state in the listing itself.
        kwargs["OptionalObjectAttributes"] = ["RestoreStatus"]
    for page in paginator.paginate(**kwargs):
        for item in page.get("Contents", []):
            yield _object_from_listing(bucket, item)


def list_objects_range(
    bucket: str, *, prefix: str, first_key: str, last_key: str, s3_client: S3Client | None = None
) -> Iterator[ObjectInfo]:
    """Objects with `first_key <= key <= last_key` under `prefix`, in key order (one listing)."""
    s3 = s3_client or client()
    kwargs: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix}
    if len(first_key) > len(prefix):
        # A proper prefix of first_key sorts just before it; StartAfter excludes its own value.
        kwargs["StartAfter"] = first_key[:-1]
    for page in s3.get_paginator("list_objects_v2").paginate(**kwargs):
        for item in page.get("Contents", []):
            key = item["Key"]
            if key < first_key:
                continue
            if key > last_key:
                return
            yield ObjectInfo(
                bucket=bucket,
                key=key,
                size=int(item.get("Size", 0)),
                etag=normalize_etag(item.get("ETag")),
                storage_class=item.get("StorageClass") or "STANDARD",
                last_modified=item.get("LastModified"),
            )


def prefix_is_empty(bucket: str, prefix: str, *, s3_client: S3Client | None = None) -> bool:
    """True when no object has a key starting with `prefix` (one listing request)."""
    response = (s3_client or client()).list_objects_v2(Bucket=bucket, Prefix=prefix, MaxKeys=1)
    return not response.get("Contents")


def delete_prefix(bucket: str, prefix: str) -> int:
    """Delete every object under `prefix`; returns how many were deleted (0 when the bucket
    does not exist: there is nothing under the prefix to delete)."""
    if not prefix:
        raise ValueError("Refusing to delete a whole bucket.")
    s3 = client()
    deleted = 0
    batch: list[dict[str, str]] = []
    objects = list_objects(bucket, prefix)
    try:
        first = next(objects, None)  # the first page: a missing bucket shows here
    except ClientError as exc:
        if error_code(exc) == "NoSuchBucket":
            return 0
        raise
    for obj in itertools.chain([first] if first is not None else [], objects):
        batch.append({"Key": obj.key})
        if len(batch) == 1000:
            s3.delete_objects(Bucket=bucket, Delete={"Objects": batch, "Quiet": True})  # type: ignore[typeddict-item]
            deleted += len(batch)
            batch = []
    if batch:
        s3.delete_objects(Bucket=bucket, Delete={"Objects": batch, "Quiet": True})  # type: ignore[typeddict-item]
        deleted += len(batch)
    return deleted
