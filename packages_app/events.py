"""State-change announcements of packages: EventBridge events and the package-finished hook."""

from __future__ import annotations

from typing import Any

from datasharing import aws_events, hooks
from packages_app.models import Package

PACKAGE_STATE_CHANGE_DETAIL_TYPE = "DataPackagingJobStateChange"


def _iso(value: Any) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def package_state_detail(package: Package) -> dict[str, Any]:
    """The event detail: the package as the API shows it, without the request body (as the
    predecessor's events), plus the step being worked on."""
    return {
        "id": package.id,
        "packageName": package.package_name,
        "status": package.status,
        "step": package.step,
        "requestTime": _iso(package.request_time),
        "completionTime": _iso(package.completion_time),
        "hasExpired": package.has_expired,
        "errorMessage": package.error_message or None,
        "requestedBy": package.requested_by.username if package.requested_by else None,
        "libraryCount": package.library_count,
        "fastqCount": package.fastq_count,
        "workflowRunCount": package.workflow_run_count,
        "fileCount": package.file_count,
        "totalBytes": package.total_bytes,
        "archivedFileCount": package.archived_file_count,
    }


def package_state_announce(package: Package) -> None:
    """After the current transaction commits: publish the state change, and tell listeners (e.g.
    automatic sharing) when the package reached a terminal state."""
    aws_events.publish_on_commit(PACKAGE_STATE_CHANGE_DETAIL_TYPE, package_state_detail(package))
    if package.is_terminal:
        hooks.fire_on_commit(hooks.PACKAGE_FINISHED, package_id=package.id, status=package.status)
