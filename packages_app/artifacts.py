"""Artifacts written next to a package in the artifact bucket: manifest, checksums (and, with the
report issue, the HTML and PDF reports).

Everything is rendered from the package's frozen contents, never from the live catalog.
"""

from __future__ import annotations

import csv
import io
import re

from django.conf import settings

from datasharing import s3
from packages_app.models import Package, PackageFile

MANIFEST_COLUMNS = (
    "relative_path",
    "size",
    "md5",
    "sha256",
    "etag",
    "storage_class",
    "data_type",
    "library_id",
    "instrument_run_id",
    "lane",
    "portal_run_id",
    "workflow_name",
    "source_uri",
)
_MD5_RE = re.compile(r"^[0-9a-f]{32}$")


def file_md5(file: PackageFile) -> str:
    """The file's MD5 when known: the recorded checksum, or a single-part ETag (which is the MD5)."""
    if file.md5:
        return file.md5
    return file.etag if _MD5_RE.match(file.etag or "") else ""


def manifest_tsv(*, package: Package) -> str:
    out = io.StringIO()
    writer = csv.writer(out, delimiter="\t", lineterminator="\n")
    writer.writerow(MANIFEST_COLUMNS)
    for file in package.files.order_by("relative_path").iterator(chunk_size=2000):
        writer.writerow(
            [
                file.relative_path,
                file.size,
                file_md5(file),
                file.sha256,
                file.etag,
                file.storage_class,
                file.data_type,
                file.library_id,
                file.instrument_run_id,
                file.lane or "",
                file.portal_run_id,
                file.workflow_name,
                file.source_uri,
            ]
        )
    return out.getvalue()


def checksums_md5(*, package: Package) -> str:
    """`md5sum -c` format, relative paths; files whose MD5 is unknown are listed as comments."""
    lines = []
    for file in package.files.order_by("relative_path").iterator(chunk_size=2000):
        md5 = file_md5(file)
        lines.append(
            f"{md5}  {file.relative_path}"
            if md5
            else f"# no MD5 known: {file.relative_path} ({file.size} bytes)"
        )
    return "\n".join(lines) + "\n"


def artifact_key(package: Package, name: str) -> str:
    return s3.artifact_key(package.id, name)


def package_artifacts_write(*, package: Package) -> None:
    """Write manifest.tsv and checksums.md5 under the package's prefix and record their keys."""
    bucket = settings.ARTIFACT_BUCKET
    s3.ensure_bucket(bucket)
    package.manifest_key = artifact_key(package, "manifest.tsv")
    s3.put_object(
        bucket,
        package.manifest_key,
        manifest_tsv(package=package).encode(),
        content_type="text/tab-separated-values",
    )
    package.checksums_key = artifact_key(package, "checksums.md5")
    s3.put_object(
        bucket,
        package.checksums_key,
        checksums_md5(package=package).encode(),
        content_type="text/plain",
    )
    package.save(update_fields=["manifest_key", "checksums_key"])
