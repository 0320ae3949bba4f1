"""S3 URIs, bucket names and the keys of our own artifacts."""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.conf import settings

from datasharing.errors import DomainError

_BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


@dataclass(frozen=True)
class S3Uri:
    bucket: str
    key: str

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    def child(self, relative_key: str) -> S3Uri:
        base = self.key if not self.key or self.key.endswith("/") else self.key + "/"
        return S3Uri(self.bucket, base + relative_key.lstrip("/"))


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


def artifact_key(*parts: str) -> str:
    """Key under the artifact prefix, e.g. artifact_key(package_id, "manifest.tsv")."""
    cleaned = [p.strip("/") for p in parts if p.strip("/")]
    prefix = settings.ARTIFACT_PREFIX
    return "/".join([prefix, *cleaned] if prefix else cleaned)
