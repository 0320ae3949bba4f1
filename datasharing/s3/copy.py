"""Server-side copies: CopyObject (up to 5 GiB) and multipart UploadPartCopy (up to 5 TiB).

Each request is signed and sent by `fast_copy` when it can (pushes make one per file); whatever
it gets back other than a successful copy is handed to botocore, which retries and raises exactly
as for a request of its own.
"""

from __future__ import annotations

import contextlib
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError
from django.conf import settings

from datasharing.s3.clients import client
from datasharing.s3.errors import S3_ERRORS
from datasharing.s3.etags import normalize_etag, quote_etag
from datasharing.s3.fast_copy import FastCopy, Handover, botocore_answered_by, fast_copy_for
from datasharing.s3.parts import part_ranges

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


@dataclass(frozen=True)
class CopyResult:
    etag: str
    part_etags: tuple[str, ...] = ()

    @property
    def is_multipart(self) -> bool:
        return bool(self.part_etags)


@dataclass(frozen=True)
class _MultipartCopy:
    """What every part of one multipart copy shares."""

    source_bucket: str
    source_key: str
    bucket: str
    key: str
    upload_id: str
    if_match: str


def _ready_fast_copy(s3: S3Client, bucket: str) -> FastCopy | None:
    if not settings.S3_FAST_COPY:
        return None
    fast = fast_copy_for(s3, bucket)
    return fast if fast is not None and fast.ready() else None


def copy_object(
    *,
    source_bucket: str,
    source_key: str,
    bucket: str,
    key: str,
    if_match: str = "",
    acl: str = "",
) -> CopyResult:
    """Server-side copy in one request (objects up to 5 GiB). With `if_match`, S3 refuses
    (PreconditionFailed) when the source is no longer that version."""
    s3 = client()
    answer: Handover = None
    fast = _ready_fast_copy(s3, bucket)
    if fast is not None:
        sent = fast.copy(
            source_bucket=source_bucket,
            source_key=source_key,
            key=key,
            if_match=if_match,
            acl=acl,
        )
        if isinstance(sent, str):
            return CopyResult(etag=sent)
        answer = sent
    kwargs: dict[str, Any] = {
        "Bucket": bucket,
        "Key": key,
        "CopySource": {"Bucket": source_bucket, "Key": source_key},
    }
    if if_match:
        kwargs["CopySourceIfMatch"] = quote_etag(if_match)
    if acl:
        kwargs["ACL"] = acl
    with botocore_answered_by(answer):
        response = s3.copy_object(**kwargs)
    return CopyResult(etag=normalize_etag(response.get("CopyObjectResult", {}).get("ETag")))


def source_part_size(bucket: str, key: str) -> int | None:
    """Size of part 1 of a multipart object (HEAD ?partNumber=1), or None when unknown."""
    try:
        head = client().head_object(Bucket=bucket, Key=key, PartNumber=1)
    except ClientError:
        return None
    parts = head.get("PartsCount")
    size = int(head.get("ContentLength", 0))
    return size if parts and size > 0 else None


def multipart_copy(
    *,
    source_bucket: str,
    source_key: str,
    bucket: str,
    key: str,
    size: int,
    part_size: int,
    if_match: str = "",
    acl: str = "",
    executor: Executor | None = None,
) -> CopyResult:
    """Server-side copy with UploadPartCopy (any size up to 5 TiB); parts run on `executor`.

    On any failure the multipart upload is aborted so no orphan parts are left behind.
    """
    s3 = client()
    create_kwargs: dict[str, Any] = {"Bucket": bucket, "Key": key}
    if acl:
        create_kwargs["ACL"] = acl
    upload_id = s3.create_multipart_upload(**create_kwargs)["UploadId"]
    upload = _MultipartCopy(source_bucket, source_key, bucket, key, upload_id, if_match)
    ranges = part_ranges(size, part_size)
    try:
        if executor is not None:
            part_etags = list(executor.map(lambda part: _copy_part(s3, upload, part), ranges))
        else:
            part_etags = [_copy_part(s3, upload, part) for part in ranges]
        completed = s3.complete_multipart_upload(
            Bucket=bucket,
            Key=key,
            UploadId=upload_id,
            MultipartUpload={
                "Parts": [
                    {"PartNumber": number, "ETag": quote_etag(etag)}
                    for (number, _, _), etag in zip(ranges, part_etags, strict=True)
                ]
            },
        )
    except BaseException:
        with contextlib.suppress(*S3_ERRORS):
            s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
        raise
    return CopyResult(etag=normalize_etag(completed.get("ETag")), part_etags=tuple(part_etags))


def _copy_part(s3: S3Client, upload: _MultipartCopy, part: tuple[int, int, int]) -> str:
    """Copy one part (number, first byte, last byte); its ETag."""
    answer: Handover = None
    fast = _ready_fast_copy(s3, upload.bucket)
    if fast is not None:
        sent = fast.copy_part(
            source_bucket=upload.source_bucket,
            source_key=upload.source_key,
            key=upload.key,
            upload_id=upload.upload_id,
            part=part,
            if_match=upload.if_match,
        )
        if isinstance(sent, str):
            return sent
        answer = sent
    number, first, last = part
    kwargs: dict[str, Any] = {
        "Bucket": upload.bucket,
        "Key": upload.key,
        "UploadId": upload.upload_id,
        "PartNumber": number,
        "CopySource": {"Bucket": upload.source_bucket, "Key": upload.source_key},
        "CopySourceRange": f"bytes={first}-{last}",
    }
    if upload.if_match:
        kwargs["CopySourceIfMatch"] = quote_etag(upload.if_match)
    with botocore_answered_by(answer):
        response = s3.upload_part_copy(**kwargs)
    return normalize_etag(response["CopyPartResult"].get("ETag"))


def abort_multipart_uploads(bucket: str, key: str, *, s3_client: S3Client | None = None) -> int:
    """Abort unfinished multipart uploads to exactly `key` (left by a worker that died)."""
    s3 = s3_client or client()
    aborted = 0
    response = s3.list_multipart_uploads(Bucket=bucket, Prefix=key)
    for upload in response.get("Uploads", []):
        if upload.get("Key") == key:
            with contextlib.suppress(*S3_ERRORS):
                s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload["UploadId"])
                aborted += 1
    return aborted
