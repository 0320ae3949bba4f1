"""The one place boto3 S3 clients are made: endpoint, region, credentials, retries, timeouts and
connection pool sizes.

Works against AWS S3 (default credential chain) and S3-compatible stores (`AWS_ENDPOINT_URL_S3`,
path-style addressing).
"""

from __future__ import annotations

import datetime as dt
import email.utils
import functools
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import boto3
from botocore import utils as botocore_utils
from botocore.config import Config
from django.conf import settings

from datasharing.s3 import signing
from datasharing.s3.fast_copy import register_copy_hook

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

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


def probe_client() -> S3Client:
    """A client that gives up after one attempt of a few seconds (health checks)."""
    return _client(settings.AWS_ENDPOINT_URL_S3, settings.AWS_REGION, 1, 2, 3.0)


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


def _session() -> boto3.session.Session:
    session = boto3.session.Session()
    signing.set_timestamp_parser(session, _parse_timestamp)
    return session


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
