"""Allowed catalogue sources: the S3 prefixes the catalog may take data from (SPEC §7).

A source is `s3://bucket/prefix/` (or a whole bucket, `s3://bucket/`), from the setting
CATALOG_ALLOWED_SOURCES (comma-separated) and the enabled rows of Admin > Catalog > Allowed
sources. Everything that puts objects into the catalog is bound by them: the workflow importer
(each run's output URI, given or made from WORKFLOW_OUTPUT_URI_TEMPLATE), the fastq-list
importer (its base URI and every file), `sync-storage` (API and command), the event listener,
and packaging, which refuses catalogued objects outside the sources by name, so rows catalogued
before a source was removed (or before this policy existed) never leave.

Invariants:
- The artifact bucket (ARTIFACT_BUCKET: reports, manifests and download scripts holding live
  presigned URLs) is never a source, whatever the setting or the admin rows say; an entry in it
  is refused when saved and ignored when configured.
- Nothing configured means nothing is a source: every import is refused with an error naming
  the setting and the admin page. The embedded default (`make run`, the tests) lists the demo
  buckets; production (DEPLOYMENT=production) lists none until configured.
- Sources and destinations never overlap (one prefix containing the other, in one bucket):
  `sources_overlapping` is what the destination policy asks.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings

from catalog_app.sources.models import AllowedSource
from catalog_app.sources.source import SourcePrefix, in_artifact_bucket, source_prefix_parse
from datasharing import s3
from datasharing.errors import DomainError

logger = logging.getLogger(__name__)

SETTING = "CATALOG_ALLOWED_SOURCES"
ADMIN_PAGE = "Admin > Catalog > Allowed sources"
MAX_LISTED = 10


@dataclass(frozen=True)
class SourcePolicy:
    """The allowed sources at one moment (load once per import, sync or resolution)."""

    sources: tuple[SourcePrefix, ...]

    def allows(self, bucket: str, key: str) -> bool:
        """The object (or prefix) `s3://bucket/key` is inside an allowed source."""
        if in_artifact_bucket(bucket):
            return False
        return any(source.contains(bucket, key) for source in self.sources)

    def allows_uri(self, uri: str) -> bool:
        try:
            location = s3.parse_s3_uri(uri)
        except DomainError:
            return False
        return self.allows(location.bucket, location.key)

    def refusal(self, uris: Iterable[str], *, what: str = "") -> DomainError:
        """The error for `uris` outside every allowed source, naming them, the setting and the
        admin page; `what` says what they are ("output URI", "catalogued file(s)", ...)."""
        names = sorted(set(uris))
        shown = ", ".join(names[:MAX_LISTED]) + (
            f" (and {len(names) - MAX_LISTED} more)" if len(names) > MAX_LISTED else ""
        )
        subject = f"{what} {shown}" if what else shown
        verb = "is" if len(names) == 1 else "are"
        if self.sources:
            allowed = ", ".join(source.uri for source in self.sources[:MAX_LISTED])
            reason = f"the allowed catalogue sources are {allowed}"
        else:
            reason = "no catalogue sources are configured"
        return DomainError(
            f"{subject} {verb} not in an allowed catalogue source; {reason}. An admin adds "
            f"sources in {ADMIN_PAGE} or the {SETTING} setting (the artifact bucket is never "
            "a source).",
            details={"notAllowedSources": names},
        )

    def require(self, uri: str, *, what: str = "") -> None:
        """400 DomainError naming `uri` unless it is inside an allowed source."""
        if not self.allows_uri(uri):
            raise self.refusal([uri], what=what)


def _configured_sources(entries: Iterable[str], origin: str) -> list[SourcePrefix]:
    sources = []
    for entry in entries:
        try:
            sources.append(source_prefix_parse(entry))
        except DomainError as exc:
            logger.warning("ignoring catalogue source %r from %s: %s", entry, origin, exc.message)
    return sources


def source_policy_load() -> SourcePolicy:
    """The sources of the setting and of the enabled admin rows (one query)."""
    sources = _configured_sources(settings.CATALOG_ALLOWED_SOURCES, SETTING) + _configured_sources(
        AllowedSource.objects.filter(enabled=True).values_list("prefix", flat=True), ADMIN_PAGE
    )
    return SourcePolicy(tuple(dict.fromkeys(sources)))


def source_is_allowed(uri: str) -> bool:
    """`uri` (an object or a prefix) is inside an allowed catalogue source."""
    return source_policy_load().allows_uri(uri)


def source_require_allowed(uri: str, *, what: str = "") -> None:
    """400 DomainError naming `uri`, the setting and the admin page unless `uri` is inside an
    allowed catalogue source."""
    source_policy_load().require(uri, what=what)


def sources_overlapping(*, bucket: str, prefix: str) -> list[str]:
    """The allowed sources that overlap `s3://bucket/prefix` (`prefix` "" or ending with "/"),
    plus the artifact bucket when it is that bucket: where no destination may be."""
    found = [
        source.uri for source in source_policy_load().sources if source.overlaps(bucket, prefix)
    ]
    if in_artifact_bucket(bucket):
        found.insert(0, f"s3://{bucket}/ (the artifact bucket)")
    return found
