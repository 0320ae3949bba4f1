"""ETags: their forms (quoted or not, single part or multipart) and the ETag S3 gives an object
assembled from parts (no requests)."""

from __future__ import annotations

import hashlib
import re

_MD5_ETAG_RE = re.compile(r"^[0-9a-f]{32}$")
_MULTIPART_ETAG_RE = re.compile(r"^[0-9a-f]{32}-(\d+)$")


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


def normalize_etag(etag: str | None) -> str:
    """An ETag without quotes, whatever the server sent (SeaweedFS omits them, AWS quotes them)."""
    return (etag or "").strip().strip('"')


def quote_etag(etag: str) -> str:
    """An ETag as S3 wants it in a condition or a part list: in double quotes."""
    return f'"{normalize_etag(etag)}"'
