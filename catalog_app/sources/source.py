"""A catalogue source: `s3://bucket/prefix/` parsed, normalised and checked once (400 for anything
malformed, and for the artifact bucket, which is never a source)."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings

from catalog_app.sources.names import unsafe_name_problem
from datasharing import s3
from datasharing.errors import DomainError

MAX_SOURCE_LENGTH = 1024


@dataclass(frozen=True)
class SourcePrefix:
    bucket: str
    prefix: str  # "" (the whole bucket) or ending with "/"

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"

    def contains(self, bucket: str, key: str) -> bool:
        """`key` (an object or a prefix) is this source or below it."""
        return bucket == self.bucket and key.startswith(self.prefix)

    def overlaps(self, bucket: str, prefix: str) -> bool:
        """Either prefix contains the other (both "" or ending with "/")."""
        return bucket == self.bucket and (
            prefix.startswith(self.prefix) or self.prefix.startswith(prefix)
        )


def in_artifact_bucket(bucket: str) -> bool:
    return bucket == settings.ARTIFACT_BUCKET


def source_prefix_parse(value: str) -> SourcePrefix:
    """Validate and normalise a source (`s3://bucket/prefix` -> `s3://bucket/prefix/`); 400
    DomainError for anything malformed and for the artifact bucket."""
    if not isinstance(value, str) or not value.strip():
        raise DomainError("A source is required: s3://bucket/prefix/ or s3://bucket/.")
    value = value.strip()
    if len(value) > MAX_SOURCE_LENGTH:
        raise DomainError(f"A source is at most {MAX_SOURCE_LENGTH} characters.")
    location = s3.parse_s3_uri(value)
    prefix = location.key
    problem = unsafe_name_problem(prefix)
    if problem:
        raise DomainError(f"Source {value!r}: {problem}.")
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    if prefix.startswith("/") or "//" in prefix:
        raise DomainError(f"Source {value!r} contains an empty path segment ('//').")
    if in_artifact_bucket(location.bucket):
        raise DomainError(
            f"Source {value!r} is in the artifact bucket ({settings.ARTIFACT_BUCKET}), where "
            "package reports, manifests and download scripts are written: it is never a source."
        )
    return SourcePrefix(location.bucket, prefix)
