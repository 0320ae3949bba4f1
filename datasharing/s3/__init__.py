"""The one package that talks to S3 through boto3. Everything else does `from datasharing import
s3` and calls the functions re-exported here, which return our own dataclasses.

Modules by area: `uris` (S3 URIs, bucket names, artifact keys), `clients` (the one place boto3
clients are made), `errors`, `buckets`, `objects` (HEAD, GET, PUT, DELETE), `listing`, `restore`
(archived objects), `uploads`, `etags`, `parts` (multipart arithmetic), `copy` (CopyObject,
UploadPartCopy), `fast_copy` (copies signed here), `presign`, and `signing`: the one SigV4
implementation, and the only module that touches botocore's internals.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from datasharing.s3.buckets import bucket_is_reachable, ensure_bucket
from datasharing.s3.clients import (
    TemporaryCredentials,
    client,
    client_for,
    presign_client,
)
from datasharing.s3.copy import (
    CopyResult,
    abort_multipart_uploads,
    copy_object,
    multipart_copy,
    source_part_size,
)
from datasharing.s3.errors import (
    RETRYABLE_ERROR_CODES,
    S3_ERRORS,
    error_code,
    is_not_found,
    is_retryable,
    is_transient,
)
from datasharing.s3.etags import (
    is_md5_etag,
    multipart_etag,
    multipart_part_count,
    normalize_etag,
)
from datasharing.s3.listing import (
    delete_prefix,
    list_objects,
    list_objects_range,
    prefix_is_empty,
)
from datasharing.s3.objects import (
    ObjectInfo,
    ObjectStream,
    delete_object,
    get_object_bytes,
    head_object,
    head_object_sse,
    head_object_with,
    open_object,
    open_object_stream,
    put_object,
)
from datasharing.s3.parts import (
    MAX_PART_SIZE,
    MAX_PARTS,
    MAX_SINGLE_COPY_SIZE,
    MIN_PART_SIZE,
    choose_part_size,
    part_ranges,
)
from datasharing.s3.presign import (
    SIGV4_MAX_EXPIRES_IN,
    PresignedUrls,
    presigned_get_url,
    presigned_get_urls,
)
from datasharing.s3.restore import ARCHIVED_STORAGE_CLASSES, restore_object
from datasharing.s3.uploads import HashingReader, upload_stream
from datasharing.s3.uris import S3Uri, artifact_key, bucket_name_is_valid, parse_s3_uri

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client as S3Client

__all__ = [
    "ARCHIVED_STORAGE_CLASSES",
    "MAX_PARTS",
    "MAX_PART_SIZE",
    "MAX_SINGLE_COPY_SIZE",
    "MIN_PART_SIZE",
    "RETRYABLE_ERROR_CODES",
    "S3_ERRORS",
    "SIGV4_MAX_EXPIRES_IN",
    "CopyResult",
    "HashingReader",
    "ObjectInfo",
    "ObjectStream",
    "PresignedUrls",
    "S3Uri",
    "TemporaryCredentials",
    "abort_multipart_uploads",
    "artifact_key",
    "bucket_is_reachable",
    "bucket_name_is_valid",
    "choose_part_size",
    "client",
    "client_for",
    "copy_object",
    "delete_object",
    "delete_prefix",
    "ensure_bucket",
    "error_code",
    "get_object_bytes",
    "head_object",
    "head_object_sse",
    "head_object_with",
    "is_md5_etag",
    "is_not_found",
    "is_retryable",
    "is_transient",
    "list_objects",
    "list_objects_range",
    "multipart_copy",
    "multipart_etag",
    "multipart_part_count",
    "normalize_etag",
    "open_object",
    "open_object_stream",
    "parse_s3_uri",
    "part_ranges",
    "prefix_is_empty",
    "presign_client",
    "presigned_get_url",
    "presigned_get_urls",
    "put_object",
    "restore_object",
    "source_part_size",
    "upload_stream",
]
