"""The one module that talks to S3 through boto3. Everything else uses these functions and the
dataclasses they return.

Works against AWS S3 (default credential chain) and S3-compatible stores (`AWS_ENDPOINT_URL_S3`,
path-style addressing). ETags are returned without quotes whatever the server sends (SeaweedFS
omits them, AWS quotes them).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import email.utils
import functools
import hashlib
import hmac
import html
import io
import logging
import math
import re
import threading
import time
import weakref
from collections.abc import Iterator, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import quote, unquote, urlsplit

import boto3
from boto3.s3.transfer import TransferConfig
from botocore import utils as botocore_utils
from botocore.awsrequest import AWSPreparedRequest, AWSResponse, HTTPHeaders
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings

from datasharing.errors import DomainError

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

logger = logging.getLogger(__name__)

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
    return bool(_BUCKET_RE.fullmatch(bucket)) and ".." not in bucket


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
        # Our calls are type-checked against boto3-stubs; validating every request again costs
        # a noticeable share of the CPU of a small request (pushes make thousands).
        parameter_validation=False,
    )
    s3 = _session().client("s3", endpoint_url=endpoint_url, config=config)
    register_copy_hook(s3)
    return s3


def _parse_timestamp(value: Any) -> dt.datetime:
    """S3 timestamps (ISO 8601 in XML bodies, RFC 1123 in headers) without dateutil's general
    parser, which costs more CPU than the rest of a small copy request."""
    if isinstance(value, str):
        try:
            parsed = dt.datetime.fromisoformat(value)
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)
        except ValueError:
            try:
                return email.utils.parsedate_to_datetime(value)
            except (TypeError, ValueError):
                pass
    return botocore_utils.parse_timestamp(value)


def _session() -> boto3.session.Session:
    session = boto3.session.Session()
    session._session.get_component("response_parser_factory").set_parser_defaults(
        timestamp_parser=_parse_timestamp
    )
    return session


_client_lock = threading.Lock()


def client() -> S3Client:
    """A shared, thread-safe S3 client for the configured endpoint."""
    key = (
        settings.AWS_ENDPOINT_URL_S3,
        settings.AWS_REGION,
        settings.S3_MAX_ATTEMPTS,
        settings.S3_MAX_POOL_CONNECTIONS,
    )
    # lru_cache does not stop threads that miss at once from each building a client (about
    # 12 MB each): the first use from a pool of copy threads would build one per thread.
    with _client_lock:
        return _client(*key)


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
_TRANSIENT_CODES = frozenset(
    {
        "SlowDown",
        "Throttling",
        "ThrottlingException",
        "RequestTimeout",
        "RequestTimeoutException",
        "InternalError",
        "ServiceUnavailable",
        "503",
        "500",
    }
)


def is_transient(exc: BaseException) -> bool:
    """Worth retrying later: connection problems, timeouts, throttling and 5xx answers (after the
    client's own retries). Refusals (403, 404, 405, invalid state ...) are not."""
    if isinstance(exc, BotoCoreError):
        return True
    if isinstance(exc, ClientError):
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
        return int(status) >= 500 or error_code(exc) in _TRANSIENT_CODES
    return False


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


# --- Presigning many objects --------------------------------------------------------------------

# SigV4 query-string authentication refuses X-Amz-Expires above 7 days.
SIGV4_MAX_EXPIRES_IN = 7 * 24 * 3600


@dataclass(frozen=True)
class PresignedUrls:
    """GET URLs in the order of the objects asked for, and when they stop working."""

    urls: list[str]
    signed_at: dt.datetime
    expires_at: dt.datetime
    # "sigv4": signed here (the fast path); "botocore": one generate_presigned_url call per URL.
    signer: str
    # Set when the signing credentials are temporary and expire before the URLs would.
    credentials_expire_at: dt.datetime | None = None


def presign_client() -> S3Client:
    """The client whose credentials sign download URLs.

    URLs signed with temporary credentials (instance roles, SSO, STS) stop working when those
    credentials expire, whatever X-Amz-Expires says; `PRESIGN_AWS_ACCESS_KEY_ID` /
    `PRESIGN_AWS_SECRET_ACCESS_KEY` give long-term credentials for presigning alone.
    """
    if not settings.PRESIGN_AWS_ACCESS_KEY_ID:
        return client()
    return _presign_client(
        settings.AWS_ENDPOINT_URL_S3,
        settings.AWS_REGION,
        settings.PRESIGN_AWS_ACCESS_KEY_ID,
        settings.PRESIGN_AWS_SECRET_ACCESS_KEY,
    )


@functools.lru_cache(maxsize=4)
def _presign_client(
    endpoint_url: str | None, region: str, access_key: str, secret_key: str
) -> S3Client:
    config = Config(
        region_name=region,
        signature_version="s3v4",
        s3={"addressing_style": "path" if endpoint_url else "auto"},
    )
    session = boto3.session.Session(aws_access_key_id=access_key, aws_secret_access_key=secret_key)
    return session.client("s3", endpoint_url=endpoint_url, config=config)


def _host_header(url: str) -> str:
    """The Host value SigV4 signs: lowercase host, port only when not the scheme's default."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    if parts.port is not None and parts.port != {"http": 80, "https": 443}.get(parts.scheme):
        host = f"{host}:{parts.port}"
    return host


class _BucketSigner:
    """Signs GET URLs for the keys of one bucket with a signing key derived once (SigV4).

    Built from one URL that botocore presigned for this bucket: botocore decides the endpoint,
    addressing style, region, credential scope, timestamp and query parameters; this class only
    repeats the signature computation for other keys, which is what makes it fast.
    """

    def __init__(
        self,
        *,
        url_prefix: str,
        path_prefix: str,
        host: str,
        canonical_query: str,
        query_head: str,
        query_tail: str,
        string_to_sign_head: str,
        signing_key: bytes,
    ) -> None:
        self.url_prefix = url_prefix
        self.path_prefix = path_prefix
        self.host = host
        self.canonical_query = canonical_query
        self.query_head = query_head
        self.query_tail = query_tail
        self.string_to_sign_head = string_to_sign_head
        self.signing_key = signing_key

    def url(self, key: str) -> str:
        # S3 keys are percent-encoded once; '/' and '~' stay (botocore does the same).
        encoded = quote(key, safe="/~")
        canonical_request = (
            f"GET\n{self.path_prefix}{encoded}\n{self.canonical_query}\n"
            f"host:{self.host}\n\nhost\nUNSIGNED-PAYLOAD"
        )
        string_to_sign = (
            self.string_to_sign_head + hashlib.sha256(canonical_request.encode()).hexdigest()
        )
        signature = hmac.digest(self.signing_key, string_to_sign.encode(), "sha256").hex()
        return f"{self.url_prefix}{encoded}?{self.query_head}{signature}{self.query_tail}"


def _signing_key(secret_key: str, date: str, region: str, service: str) -> bytes:
    key = hmac.digest(f"AWS4{secret_key}".encode(), date.encode(), "sha256")
    key = hmac.digest(key, region.encode(), "sha256")
    key = hmac.digest(key, service.encode(), "sha256")
    return hmac.digest(key, b"aws4_request", "sha256")


def _bucket_signer(
    s3: S3Client, credentials: Any, bucket: str, sample_key: str, expires_in: int
) -> tuple[_BucketSigner, dt.datetime] | None:
    """A signer for `bucket` and its signing time, or None when botocore's URL for `sample_key`
    is not one this signer reproduces byte for byte (then the caller falls back to botocore)."""
    template = s3.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": sample_key}, ExpiresIn=expires_in
    )
    base, _, query = template.partition("?")
    encoded = quote(sample_key, safe="/~")
    path = urlsplit(base).path
    if not query or not base.endswith(encoded) or not path.endswith(encoded):
        return None
    pairs = [pair.partition("=") for pair in query.split("&")]
    params = {name: value for name, _, value in pairs}
    if (
        params.get("X-Amz-Algorithm") != "AWS4-HMAC-SHA256"
        or params.get("X-Amz-SignedHeaders") != "host"
        or not params.get("X-Amz-Signature")
        or "X-Amz-Date" not in params
    ):
        return None
    scope = unquote(params.get("X-Amz-Credential", "")).split("/")
    token = params.get("X-Amz-Security-Token")
    if (
        len(scope) != 5
        or scope[0] != credentials.access_key
        or (unquote(token) if token is not None else None) != credentials.token
    ):
        # Credentials were refreshed between reading them and botocore signing.
        return None
    _, date, region, service, _ = scope
    amz_date = params["X-Amz-Date"]
    signature_pair = f"X-Amz-Signature={params['X-Amz-Signature']}"
    query_head, _, query_tail = query.partition(signature_pair)
    signer = _BucketSigner(
        url_prefix=base[: len(base) - len(encoded)],
        path_prefix=path[: len(path) - len(encoded)],
        host=_host_header(base),
        canonical_query="&".join(
            f"{name}={value}"
            for name, value in sorted(
                (name, value) for name, _, value in pairs if name != "X-Amz-Signature"
            )
        ),
        query_head=query_head + "X-Amz-Signature=",
        query_tail=query_tail,
        string_to_sign_head=f"AWS4-HMAC-SHA256\n{amz_date}\n{date}/{region}/{service}/aws4_request\n",
        signing_key=_signing_key(credentials.secret_key, date, region, service),
    )
    if signer.url(sample_key) != template:
        return None
    signed_at = dt.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC)
    return signer, signed_at


def _credentials_expiry(s3: S3Client) -> dt.datetime | None:
    """When the signing credentials expire (temporary credentials), else None."""
    credentials = getattr(getattr(s3, "_request_signer", None), "_credentials", None)
    expiry = getattr(credentials, "_expiry_time", None)
    if isinstance(expiry, dt.datetime):
        return expiry if expiry.tzinfo else expiry.replace(tzinfo=dt.UTC)
    return None


def presigned_get_urls(objects: Sequence[tuple[str, str]], *, expires_in: int) -> PresignedUrls:
    """Presigned GET URLs for many (bucket, key) pairs, equal to botocore's, ~20x faster.

    botocore's generate_presigned_url rebuilds a request and re-derives the signing key for every
    URL; here botocore presigns one URL per bucket and the others are signed with the signing key
    derived once, which gives the same bytes (checked on that first URL of every bucket; any
    difference falls back to botocore for everything, so the result is always correct).
    """
    if not 1 <= expires_in <= SIGV4_MAX_EXPIRES_IN:
        raise ValueError(f"expires_in must be between 1 and {SIGV4_MAX_EXPIRES_IN} seconds.")
    s3 = presign_client()
    credentials_expire_at = _credentials_expiry(s3)
    signer_credentials = getattr(getattr(s3, "_request_signer", None), "_credentials", None)
    frozen = signer_credentials.get_frozen_credentials() if signer_credentials else None
    signers: dict[str, _BucketSigner] = {}
    signed_at: dt.datetime | None = None
    fast = frozen is not None
    for bucket, key in objects:
        if not fast:
            break
        if bucket in signers:
            continue
        built = _bucket_signer(s3, frozen, bucket, key, expires_in)
        if built is None:
            logger.warning(
                "presign: fast signer does not match botocore for %s; using botocore", bucket
            )
            fast = False
            break
        signers[bucket] = built[0]
        # The earliest signing time bounds the expiry of every URL.
        signed_at = built[1] if signed_at is None else min(signed_at, built[1])
    if fast:
        urls = [signers[bucket].url(key) for bucket, key in objects]
    else:
        signed_at = dt.datetime.now(dt.UTC).replace(microsecond=0)
        urls = [
            s3.generate_presigned_url(
                "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=expires_in
            )
            for bucket, key in objects
        ]
    if signed_at is None:
        signed_at = dt.datetime.now(dt.UTC).replace(microsecond=0)
    expires_at = signed_at + dt.timedelta(seconds=expires_in)
    if credentials_expire_at is not None and credentials_expire_at < expires_at:
        expires_at = credentials_expire_at
    else:
        credentials_expire_at = None
    return PresignedUrls(
        urls=urls,
        signed_at=signed_at,
        expires_at=expires_at,
        signer="sigv4" if fast else "botocore",
        credentials_expire_at=credentials_expire_at,
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


# --- Copies, multipart and uploads (pushes) -------------------------------------------------------

# Error codes worth another attempt: throttling, server-side failures and timeouts.
RETRYABLE_ERROR_CODES = frozenset(
    {
        "SlowDown",
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottled",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "RequestTimeout",
        "RequestTimeTooSkewed",
        "InternalError",
        "ServiceUnavailable",
        "500",
        "502",
        "503",
        "504",
    }
)
MIN_PART_SIZE = 5 * 1024**2
MAX_PART_SIZE = 5 * 1024**3
MAX_PARTS = 10_000
# CopyObject copies at most 5 GiB in one request; above that only UploadPartCopy works.
MAX_SINGLE_COPY_SIZE = 5 * 1024**3
_MD5_ETAG_RE = re.compile(r"^[0-9a-f]{32}$")
_MULTIPART_ETAG_RE = re.compile(r"^[0-9a-f]{32}-(\d+)$")


def is_retryable(exc: BaseException) -> bool:
    """Throttling, 5xx and connection failures: the same request may succeed later."""
    if isinstance(exc, ClientError):
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
        return error_code(exc) in RETRYABLE_ERROR_CODES or status == 429 or status >= 500
    return isinstance(exc, BotoCoreError)


def is_md5_etag(etag: str) -> bool:
    """A single-part ETag, which S3 computes as the MD5 of the content (unless SSE-KMS/SSE-C)."""
    return bool(_MD5_ETAG_RE.fullmatch(etag or ""))


def multipart_part_count(etag: str) -> int | None:
    match = _MULTIPART_ETAG_RE.fullmatch(etag or "")
    return int(match.group(1)) if match else None


def multipart_etag(part_etags: list[str]) -> str | None:
    """The ETag S3 gives an object assembled from parts with these ETags (None unless all are
    MD5s): md5 of the concatenated binary part MD5s, then `-<part count>`."""
    if not part_etags or not all(is_md5_etag(etag) for etag in part_etags):
        return None
    digest = hashlib.md5(b"".join(bytes.fromhex(etag) for etag in part_etags))  # noqa: S324
    return f"{digest.hexdigest()}-{len(part_etags)}"


def choose_part_size(size: int, *, preferred: int, source_part_size: int | None = None) -> int:
    """Part size for a multipart copy of `size` bytes.

    Mirrors the source's own part size when known (the copy then gets the source's ETag, which makes
    the ETag comparison meaningful), else uses `preferred`, grown so the copy needs at most 10,000
    parts (a 5 TiB object needs parts of about 525 MiB).
    """
    if (
        source_part_size
        and MIN_PART_SIZE <= source_part_size <= MAX_PART_SIZE
        and math.ceil(size / source_part_size) <= MAX_PARTS
    ):
        return source_part_size
    part = max(preferred, MIN_PART_SIZE, math.ceil(size / MAX_PARTS))
    mib = 1024**2
    return min(MAX_PART_SIZE, math.ceil(part / mib) * mib)


def part_ranges(size: int, part_size: int) -> list[tuple[int, int, int]]:
    """(part number, first byte, last byte) of each part, inclusive ranges as HTTP wants them."""
    return [
        (number, start, min(start + part_size, size) - 1)
        for number, start in enumerate(range(0, size, part_size), start=1)
    ]


@dataclass(frozen=True)
class CopyResult:
    etag: str
    part_etags: tuple[str, ...] = ()

    @property
    def is_multipart(self) -> bool:
        return bool(self.part_etags)


def _quoted(etag: str) -> str:
    return f'"{normalize_etag(etag)}"'


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
    (PreconditionFailed) when the source is no longer that version.

    The request is signed and sent by `FastCopy` when it can (pushes make one per file); whatever
    it gets back other than a successful copy is handed to botocore, which retries and raises
    exactly as for a request of its own."""
    s3 = client()
    fast = _fast_copy(s3, bucket) if settings.S3_FAST_COPY else None
    if fast is not None and fast.ready():
        answer = fast.copy(
            source_bucket=source_bucket,
            source_key=source_key,
            key=key,
            if_match=if_match,
            acl=acl,
        )
        if isinstance(answer, CopyResult):
            return answer
        _copy_hook.replay = answer
    kwargs: dict[str, Any] = {
        "Bucket": bucket,
        "Key": key,
        "CopySource": {"Bucket": source_bucket, "Key": source_key},
    }
    if if_match:
        kwargs["CopySourceIfMatch"] = _quoted(if_match)
    if acl:
        kwargs["ACL"] = acl
    try:
        response = s3.copy_object(**kwargs)
    finally:
        # Never left for the next copy of this thread (botocore may fail before sending).
        _copy_hook.replay = None
    return CopyResult(etag=normalize_etag(response.get("CopyObjectResult", {}).get("ETag")))


# --- CopyObject signed and sent here (the one request per file of an S3 push) --------------------
#
# botocore spends about 1 ms of CPU on each request (events, endpoint rules, signing, parsing):
# for small objects, most of a push worker's CPU. FastCopy sends the same CopyObject for less than
# half of that: SigV4 with a signing key derived once a day, on botocore's own HTTP session
# (same connection pool, TLS and proxy settings). It is built per destination bucket from the
# request botocore itself would send, and used only when it reproduces that request's headers
# and signature byte for byte. Only a successful copy is handled here: any other answer (an error,
# S3's "200 OK" with an error body, a connection failure) is handed to botocore as the response
# to its first attempt, so parsing, retries, backoff and exceptions are botocore's.

_EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
_COPY_RESULT_ETAG_RE = re.compile(
    rb"^(?:<\?xml[^>]*>)?\s*<CopyObjectResult\b.*?<ETag>([^<]*)</ETag>", re.S
)
_AUTHORIZATION_RE = re.compile(
    r"^AWS4-HMAC-SHA256 Credential=(?P<access_key>[^/]+)/(?P<date>\d{8})/(?P<region>[^/]+)/"
    r"(?P<service>[^/]+)/aws4_request, SignedHeaders=(?P<signed>[a-z0-9;-]+), "
    r"Signature=(?P<signature>[0-9a-f]{64})$"
)
# After a fast request was throttled or failed, copies go through botocore alone for this long, so
# its adaptive rate limiter paces them.
FAST_COPY_PAUSE_SECONDS = 60.0
# Checks the fast signer against botocore: characters that need encoding in key and copy source.
_CHECK_KEY = "datasharing-signer-check/a b+c=d&e~f(1)\u00e9.txt"
_CHECK_SOURCE = ("datasharing-signer-check", "x y+z;q~\u00e9.gz")
_CHECK_ETAG = "0123456789abcdef0123456789abcdef"

_copy_hook = threading.local()
# Per client (weakly: a client dropped from the client cache takes its FastCopies with it), per
# destination bucket; None where botocore sends the copies.
_fast_copies: weakref.WeakKeyDictionary[Any, dict[str, FastCopy | None]] = (
    weakref.WeakKeyDictionary()
)
_fast_copies_lock = threading.Lock()


class _FixedBody:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **kwargs: Any) -> Iterator[bytes]:
        yield self._body


def register_copy_hook(s3: S3Client) -> None:
    """Let `copy_object` use FastCopy with this client (done for every client of `client()`)."""
    s3.meta.events.register("before-send.s3.CopyObject", _copy_hook_before_send)


def _copy_hook_before_send(request: Any, **kwargs: Any) -> Any:
    """before-send of CopyObject on our clients. Normally does nothing. In this thread it may
    capture the request botocore would send (answering for the server), or give botocore, as the
    answer to its first attempt, what a FastCopy request got (a response or an exception)."""
    captured = getattr(_copy_hook, "capture", None)
    if captured is not None:
        captured.append(request)
        body = f"<CopyObjectResult><ETag>&quot;{_CHECK_ETAG}&quot;</ETag></CopyObjectResult>"
        return AWSResponse(request.url, 200, HTTPHeaders(), _FixedBody(body.encode()))
    replay = getattr(_copy_hook, "replay", None)
    if replay is None:
        return None
    _copy_hook.replay = None
    if isinstance(replay, BaseException):
        raise replay
    return replay


def _sigv4_authorization(
    *,
    method: str,
    path: str,
    headers: dict[str, str],
    access_key: str,
    scope: str,
    signing_key: bytes,
    amz_date: str,
) -> str:
    """The Authorization header for a request without a query string; `headers` (lowercase names,
    `host` included) are all signed; the payload hash is their x-amz-content-sha256."""
    names = sorted(headers)
    signed = ";".join(names)
    canonical_headers = "".join(f"{name}:{' '.join(headers[name].split())}\n" for name in names)
    canonical_request = (
        f"{method}\n{path}\n\n{canonical_headers}\n{signed}\n{headers['x-amz-content-sha256']}"
    )
    string_to_sign = (
        f"AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n"
        + hashlib.sha256(canonical_request.encode()).hexdigest()
    )
    signature = hmac.digest(signing_key, string_to_sign.encode(), "sha256").hex()
    return (
        f"AWS4-HMAC-SHA256 Credential={access_key}/{scope}, SignedHeaders={signed}, "
        f"Signature={signature}"
    )


class FastCopy:
    """CopyObject into one bucket, signed here and sent on botocore's HTTP session.

    Holds botocore's credentials object (refreshable credentials stay fresh) and signing keys
    derived from it; never logged."""

    def __init__(
        self,
        *,
        url_prefix: str,
        path_prefix: str,
        host: str,
        region: str,
        service: str,
        user_agent: str,
        credentials: Any,
        http_session: Any,
    ) -> None:
        self.url_prefix = url_prefix
        self.path_prefix = path_prefix
        self.host = host
        self.region = region
        self.service = service
        self.user_agent = user_agent
        self._credentials = credentials
        self._http_session = http_session
        self._signing_key: tuple[str, str, bytes] = ("", "", b"")
        self.paused_until = 0.0

    def __repr__(self) -> str:
        return f"FastCopy({self.url_prefix!r})"

    def ready(self) -> bool:
        return time.monotonic() >= self.paused_until

    def _key_for(self, secret_key: str, date: str) -> bytes:
        cached_secret, cached_date, key = self._signing_key
        if cached_secret != secret_key or cached_date != date:
            key = _signing_key(secret_key, date, self.region, self.service)
            self._signing_key = (secret_key, date, key)
        return key

    def signed_headers(
        self,
        *,
        source_bucket: str,
        source_key: str,
        key: str,
        if_match: str,
        acl: str,
        amz_date: str,
        credentials: Any,
    ) -> tuple[str, dict[str, str]]:
        """(path, headers to send) for a copy signed at `amz_date` with frozen `credentials`."""
        path = self.path_prefix + quote(key, safe="/~")
        headers = {
            "host": self.host,
            "x-amz-content-sha256": _EMPTY_SHA256,
            "x-amz-copy-source": quote(f"{source_bucket}/{source_key}", safe="/~"),
            "x-amz-date": amz_date,
        }
        if if_match:
            headers["x-amz-copy-source-if-match"] = _quoted(if_match)
        if acl:
            headers["x-amz-acl"] = acl
        if credentials.token:
            headers["x-amz-security-token"] = credentials.token
        date = amz_date[:8]
        headers["authorization"] = _sigv4_authorization(
            method="PUT",
            path=path,
            headers=headers,
            access_key=credentials.access_key,
            scope=f"{date}/{self.region}/{self.service}/aws4_request",
            signing_key=self._key_for(credentials.secret_key, date),
            amz_date=amz_date,
        )
        del headers["host"]  # the HTTP client sends it, from the URL
        return path, headers

    def copy(
        self, *, source_bucket: str, source_key: str, key: str, if_match: str, acl: str
    ) -> CopyResult | AWSResponse | BotoCoreError:
        """The copy's result, or what to hand to botocore: the response when it is not a
        successful copy, or the exception sending it raised."""
        path, headers = self.signed_headers(
            source_bucket=source_bucket,
            source_key=source_key,
            key=key,
            if_match=if_match,
            acl=acl,
            amz_date=time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()),
            credentials=self._credentials.get_frozen_credentials(),
        )
        headers["User-Agent"] = self.user_agent
        headers["Content-Length"] = "0"
        url = self.url_prefix + path[len(self.path_prefix) :]
        # A plain dict: the HTTP session hands headers to urllib3, which takes any mapping.
        request = AWSPreparedRequest("PUT", url, cast(Any, headers), None, False)
        try:
            response = self._http_session.send(request)
        except BotoCoreError as exc:
            self.paused_until = time.monotonic() + FAST_COPY_PAUSE_SECONDS
            return exc
        if response.status_code == 200:
            match = _COPY_RESULT_ETAG_RE.match(response.content)
            if match:
                return CopyResult(etag=normalize_etag(html.unescape(match.group(1).decode())))
        if (
            response.status_code == 200
            or response.status_code == 429
            or (response.status_code >= 500)
        ):
            self.paused_until = time.monotonic() + FAST_COPY_PAUSE_SECONDS
        return response


def _fast_copy(s3: S3Client, bucket: str) -> FastCopy | None:
    """The FastCopy for `bucket` with this client, None when botocore sends its copies."""
    by_bucket = _fast_copies.get(s3)
    if by_bucket is not None and bucket in by_bucket:
        return by_bucket[bucket]
    with _fast_copies_lock:
        by_bucket = _fast_copies.setdefault(s3, {})
        if bucket not in by_bucket:
            by_bucket[bucket] = build_fast_copy(s3, bucket)
        return by_bucket[bucket]


def build_fast_copy(s3: S3Client, bucket: str) -> FastCopy | None:
    """A FastCopy that sends what botocore would, checked on one request botocore prepares (and
    does not send: the before-send hook answers it)."""
    credentials = getattr(getattr(s3, "_request_signer", None), "_credentials", None)
    http_session = getattr(getattr(s3, "_endpoint", None), "http_session", None)
    if credentials is None or not callable(getattr(http_session, "send", None)):
        return None
    captured: list[Any] = []
    _copy_hook.capture = captured
    try:
        s3.copy_object(
            Bucket=bucket,
            Key=_CHECK_KEY,
            CopySource={"Bucket": _CHECK_SOURCE[0], "Key": _CHECK_SOURCE[1]},
            CopySourceIfMatch=_quoted(_CHECK_ETAG),
            ACL="bucket-owner-full-control",
        )
    except S3_ERRORS:
        logger.warning("copy: could not prepare a check request for %s; using botocore", bucket)
        return None
    finally:
        _copy_hook.capture = None
    built = _fast_copy_from(captured, credentials, http_session) if len(captured) == 1 else None
    if built is None:
        logger.warning("copy: fast signer does not match botocore for %s; using botocore", bucket)
    return built


def _fast_copy_from(captured: list[Any], credentials: Any, http_session: Any) -> FastCopy | None:
    request = captured[0]
    headers = {
        name.lower(): value.decode() if isinstance(value, bytes) else str(value)
        for name, value in request.headers.items()
    }
    authorization = _AUTHORIZATION_RE.match(headers.get("authorization", ""))
    encoded = quote(_CHECK_KEY, safe="/~")
    parts = urlsplit(request.url)
    if (
        request.method != "PUT"
        or authorization is None
        or parts.query
        or parts.fragment
        or not parts.path.endswith(encoded)
        or not request.url.endswith(encoded)
    ):
        return None
    fast = FastCopy(
        url_prefix=request.url[: -len(encoded)],
        path_prefix=parts.path[: -len(encoded)],
        host=_host_header(request.url),
        region=authorization["region"],
        service=authorization["service"],
        user_agent=headers.get("user-agent", ""),
        credentials=credentials,
        http_session=http_session,
    )
    frozen = credentials.get_frozen_credentials()
    if frozen.access_key != authorization["access_key"]:
        return None  # refreshed between botocore's signing and now
    _, ours = fast.signed_headers(
        source_bucket=_CHECK_SOURCE[0],
        source_key=_CHECK_SOURCE[1],
        key=_CHECK_KEY,
        if_match=_CHECK_ETAG,
        acl="bucket-owner-full-control",
        amz_date=headers.get("x-amz-date", ""),
        credentials=frozen,
    )
    theirs = {name: headers[name] for name in authorization["signed"].split(";") if name != "host"}
    theirs["authorization"] = headers["authorization"]
    return fast if ours == theirs else None


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
    ranges = part_ranges(size, part_size)

    def copy_part(part: tuple[int, int, int]) -> str:
        number, first, last = part
        kwargs: dict[str, Any] = {
            "Bucket": bucket,
            "Key": key,
            "UploadId": upload_id,
            "PartNumber": number,
            "CopySource": {"Bucket": source_bucket, "Key": source_key},
            "CopySourceRange": f"bytes={first}-{last}",
        }
        if if_match:
            kwargs["CopySourceIfMatch"] = _quoted(if_match)
        response = s3.upload_part_copy(**kwargs)
        return normalize_etag(response["CopyPartResult"].get("ETag"))

    try:
        if executor is not None:
            part_etags = list(executor.map(copy_part, ranges))
        else:
            part_etags = [copy_part(part) for part in ranges]
        completed = s3.complete_multipart_upload(
            Bucket=bucket,
            Key=key,
            UploadId=upload_id,
            MultipartUpload={
                "Parts": [
                    {"PartNumber": number, "ETag": _quoted(etag)}
                    for (number, _, _), etag in zip(ranges, part_etags, strict=True)
                ]
            },
        )
    except BaseException:
        with contextlib.suppress(*S3_ERRORS):
            s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
        raise
    return CopyResult(etag=normalize_etag(completed.get("ETag")), part_etags=tuple(part_etags))


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


def head_object_sse(bucket: str, key: str, *, s3_client: S3Client | None = None) -> str:
    """The server-side encryption of an object ("" when none or unknown)."""
    try:
        head = (s3_client or client()).head_object(Bucket=bucket, Key=key)
    except ClientError:
        return ""
    return str(head.get("ServerSideEncryption") or "")


def prefix_is_empty(bucket: str, prefix: str, *, s3_client: S3Client | None = None) -> bool:
    """True when no object has a key starting with `prefix` (one listing request)."""
    response = (s3_client or client()).list_objects_v2(Bucket=bucket, Prefix=prefix, MaxKeys=1)
    return not response.get("Contents")


def delete_object(bucket: str, key: str, *, s3_client: S3Client | None = None) -> None:
    (s3_client or client()).delete_object(Bucket=bucket, Key=key)


# --- Other S3 stores reached with temporary credentials (ICAv2 project storage) -------------------


@dataclass(frozen=True)
class TemporaryCredentials:
    """AWS credentials handed out by a third party for one bucket prefix; never logged."""

    access_key: str = field(repr=False)
    secret_key: str = field(repr=False)
    session_token: str = field(repr=False)
    region: str
    endpoint_url: str | None = None


def client_for(credentials: TemporaryCredentials, *, pool: int = 16) -> S3Client:
    """An S3 client signing with `credentials` (not cached: credentials expire)."""
    config = Config(
        region_name=credentials.region or settings.AWS_REGION,
        signature_version="s3v4",
        retries={"max_attempts": settings.S3_MAX_ATTEMPTS, "mode": "adaptive"},
        connect_timeout=settings.S3_CONNECT_TIMEOUT,
        read_timeout=settings.S3_READ_TIMEOUT,
        max_pool_connections=pool,
        s3={"addressing_style": "path" if credentials.endpoint_url else "auto"},
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )
    return _session().client(
        "s3",
        endpoint_url=credentials.endpoint_url,
        aws_access_key_id=credentials.access_key,
        aws_secret_access_key=credentials.secret_key,
        aws_session_token=credentials.session_token or None,
        config=config,
    )


def head_object_with(s3_client: S3Client, bucket: str, key: str) -> ObjectInfo | None:
    try:
        head = s3_client.head_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        if is_not_found(exc):
            return None
        raise
    return _object_from_head(bucket, key, dict(head))


class HashingReader(io.RawIOBase):
    """Wraps a stream, counting bytes and computing their MD5 as they are read."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream
        self.md5 = hashlib.md5()  # noqa: S324 - a checksum, not security
        self.bytes_read = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        chunk: bytes = self._stream.read(size if size is not None and size >= 0 else None)
        self.md5.update(chunk)
        self.bytes_read += len(chunk)
        return chunk

    def readinto(self, buffer: Any) -> int:
        chunk = self.read(len(buffer))
        buffer[: len(chunk)] = chunk
        return len(chunk)


def upload_stream(
    stream: Any,
    *,
    s3_client: S3Client,
    bucket: str,
    key: str,
    multipart_threshold: int,
    part_size: int,
    concurrency: int,
    extra_args: dict[str, Any] | None = None,
) -> None:
    """Stream a file-like object into S3: one PUT below the threshold, else a multipart upload of
    `part_size` parts (`concurrency` in flight). Memory stays near part_size x concurrency."""
    transfer_config = TransferConfig(
        multipart_threshold=multipart_threshold,
        multipart_chunksize=max(part_size, MIN_PART_SIZE),
        max_concurrency=max(1, concurrency),
        use_threads=concurrency > 1,
    )
    s3_client.upload_fileobj(
        stream, bucket, key, ExtraArgs=extra_args or None, Config=transfer_config
    )
