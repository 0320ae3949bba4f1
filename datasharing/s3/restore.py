"""Archived objects (Glacier, Deep Archive): their restore state and asking S3 to thaw them."""

from __future__ import annotations

import re

from botocore.exceptions import ClientError

from datasharing.s3.clients import client
from datasharing.s3.errors import error_code

ARCHIVED_STORAGE_CLASSES = frozenset({"GLACIER", "DEEP_ARCHIVE"})
# Instant-retrieval and intelligent tiering tiers are readable without a restore.

_RESTORE_RE = re.compile(
    r'ongoing-request="(?P<ongoing>true|false)"(?:,\s*expiry-date="(?P<expiry>[^"]+)")?'
)


def parse_restore_header(header: str | None) -> tuple[str | None, str | None]:
    """(restore state, expiry) from an `x-amz-restore` header: (None, None) when never restored,
    ("ongoing", None) while a restore runs, ("restored", expiry) once a readable copy exists."""
    if not header:
        return None, None
    match = _RESTORE_RE.search(header)
    if not match:
        return None, None
    if match.group("ongoing") == "true":
        return "ongoing", None
    return "restored", match.group("expiry")


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
