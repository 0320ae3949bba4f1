"""Artifacts written next to a package in the artifact bucket: `manifest.tsv`, `checksums.md5`,
and the report (`SummaryReport.<packageName>.html` and `.pdf`).

Everything is rendered from the package's frozen contents, never from the live catalog. The
packaging pipeline calls `package_artifacts_write(package=...)` as its last step; the report API
and `manage.py render_report` use the report functions below.
"""

from __future__ import annotations

import csv
import io
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from django.conf import settings

from datasharing import s3
from packages_app.models import Package, PackageFile
from packages_app.report.content import report_content_build
from packages_app.report.formatting import human_size, plural
from packages_app.report.render import report_html_render, report_pdf_render

logger = logging.getLogger(__name__)

ReportFormat = Literal["html", "pdf"]
REPORT_FORMATS: tuple[ReportFormat, ...] = ("html", "pdf")
REPORT_CONTENT_TYPES: dict[str, str] = {
    "html": "text/html; charset=utf-8",
    "pdf": "application/pdf",
}
Progress = Callable[[str], None]


def _quiet(_message: str) -> None:
    return None


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
    return file.etag if _MD5_RE.fullmatch(file.etag or "") else ""


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


def report_file_name(package: Package, report_format: ReportFormat) -> str:
    return f"SummaryReport.{package.package_name}.{report_format}"


def package_artifacts_write(*, package: Package, progress: Progress = _quiet) -> None:
    """Write manifest.tsv, checksums.md5 and the HTML and PDF reports under the package's prefix
    and record their keys on the package.

    The packaging pipeline's last step; safe to repeat (same keys, objects overwritten). Caller:
    the package's files, analyses and libraries are frozen (they are not changed meanwhile).
    """
    bucket = settings.ARTIFACT_BUCKET
    s3.ensure_bucket(bucket)
    progress("writing manifest.tsv and checksums.md5")
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
    package_report_write(package=package, progress=progress)


def package_report_write(
    *,
    package: Package,
    progress: Progress = _quiet,
    formats: tuple[ReportFormat, ...] = REPORT_FORMATS,
) -> None:
    """Render the report from the package's frozen contents, write it to the artifact bucket and
    record its keys (`report_html_key`, `report_pdf_key`) on the package."""
    bucket = settings.ARTIFACT_BUCKET
    s3.ensure_bucket(bucket)
    started = time.monotonic()
    progress("reading the package's frozen contents")
    content = report_content_build(package=package)
    totals = content.totals
    progress(
        f"{plural(totals.libraries, 'library', 'libraries')}, "
        f"{plural(totals.fastq_files, 'FASTQ file')}, "
        f"{plural(totals.analyses, 'analysis', 'analyses')}, "
        f"{plural(totals.secondary_files, 'secondary file')} ({human_size(totals.bytes)}); "
        f"{totals.not_restored_files:,} archived ({time.monotonic() - started:.1f} s)"
    )
    update_fields = []
    for report_format in formats:
        step_started = time.monotonic()
        body = (
            report_html_render(content).encode("utf-8")
            if report_format == "html"
            else report_pdf_render(content)
        )
        key = artifact_key(package, report_file_name(package, report_format))
        s3.put_object(bucket, key, body, content_type=REPORT_CONTENT_TYPES[report_format])
        field = "report_html_key" if report_format == "html" else "report_pdf_key"
        setattr(package, field, key)
        update_fields.append(field)
        progress(
            f"{report_format.upper()} report: {human_size(len(body))} in "
            f"{time.monotonic() - step_started:.1f} s -> s3://{bucket}/{key}"
        )
    package.save(update_fields=update_fields)
    logger.info("report of package %s rendered in %.1f s", package.id, time.monotonic() - started)


def _report_key(package: Package, report_format: ReportFormat) -> str:
    return package.report_html_key if report_format == "html" else package.report_pdf_key


def package_report_ensure(*, package: Package, report_format: ReportFormat) -> str:
    """The artifact key of the package's report in `report_format`, rendering the report first
    when it was never written or its object has gone (e.g. a package made before reports)."""
    key = _report_key(package, report_format)
    if key and s3.head_object(settings.ARTIFACT_BUCKET, key) is not None:
        return key
    logger.info("report %s of package %s missing: rendering it", report_format, package.id)
    package_report_write(package=package, formats=(report_format,))
    return _report_key(package, report_format)


def package_report_url(*, package: Package) -> str:
    """A short-lived presigned URL of the HTML report (REPORT_URL_EXPIRY_SECONDS)."""
    key = package_report_ensure(package=package, report_format="html")
    return s3.presigned_get_url(
        settings.ARTIFACT_BUCKET, key, expires_in=settings.REPORT_URL_EXPIRY_SECONDS
    )


@dataclass(frozen=True)
class ReportDownload:
    """An open report object: iterate `chunks()` to stream it (closes the S3 body at the end)."""

    file_name: str
    content_type: str
    size: int
    body: Any

    def chunks(self, chunk_size: int = 256 * 1024) -> Any:
        try:
            yield from self.body.iter_chunks(chunk_size)
        finally:
            self.body.close()


def package_report_open(*, package: Package, report_format: ReportFormat) -> ReportDownload:
    """Open the package's report for streaming through the API (rendered first when missing)."""
    key = package_report_ensure(package=package, report_format=report_format)
    opened = s3.open_object(settings.ARTIFACT_BUCKET, key)
    if opened is None:  # deleted between the check and the read: render once more
        package_report_write(package=package, formats=(report_format,))
        key = _report_key(package, report_format)
        opened = s3.open_object(settings.ARTIFACT_BUCKET, key)
        if opened is None:
            raise RuntimeError(f"report {key} vanished right after being written")
    return ReportDownload(
        file_name=report_file_name(package, report_format),
        content_type=REPORT_CONTENT_TYPES[report_format],
        size=opened.size,
        body=opened.body,
    )
