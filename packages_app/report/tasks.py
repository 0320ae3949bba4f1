"""Celery task that re-renders a package's report (admin action, API callers).

Packaging renders the report itself, as the last step of its own task
(`packages_app.report.artifacts.package_artifacts_write`); this task is for rendering it again later.
"""

from __future__ import annotations

import logging

from celery import shared_task

from datasharing import s3
from datasharing.logs import job_context
from packages_app.models import Package, PackageStatus
from packages_app.report.artifacts import package_report_write

logger = logging.getLogger(__name__)


@shared_task(
    name="packages_app.render_report",
    autoretry_for=s3.S3_ERRORS,
    retry_backoff=10,
    retry_backoff_max=300,
    max_retries=5,
    soft_time_limit=900,
    time_limit=1000,
)
def package_report_render_task(package_id: str) -> None:
    """Render the report of `package_id` again (idempotent: same keys, objects overwritten)."""
    with job_context(package_id):
        package = Package.objects.filter(id=package_id).first()
        if package is None:
            logger.warning("report not rendered: package %s no longer exists", package_id)
            return
        if package.status != PackageStatus.SUCCEEDED:
            logger.warning("report not rendered: package %s is %s", package_id, package.status)
            return
        package_report_write(package=package)
