"""Buckets: creating ours and checking that one answers."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError
from django.conf import settings

from datasharing.s3.clients import client, probe_client
from datasharing.s3.errors import error_code, is_not_found


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


def bucket_is_reachable(bucket: str) -> None:
    """Raise unless `bucket` answers within a few seconds (one attempt; for health checks)."""
    probe_client().head_bucket(Bucket=bucket)
