"""Raw SQL writes timestamps, then the reaper claims a job keyed on them: the scenario the test
runs on the suite's Postgres and, in a subprocess, on SQLite (`python -m ... <output.json>`).

Needs a migrated database and nothing else (no S3: copiers the reaper queues go to the broker).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys
from typing import Any


class Messages(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def _copying_push(name: str) -> Any:
    from django.utils import timezone

    from packages_app.models import Package, PackageFile, PackageStatus
    from sharing_app.push.models import DestinationType, PushJob, PushStatus, PushStep

    package = Package.objects.create(
        package_name=name, request={}, status=PackageStatus.SUCCEEDED, file_count=4
    )
    PackageFile.objects.bulk_create(
        PackageFile(
            package=package,
            relative_path=f"f{n}.txt",
            source_bucket="source",
            source_key=f"{name}/f{n}.txt",
            size=10,
            etag="0" * 32,
        )
        for n in range(4)
    )
    return PushJob.objects.create(
        package=package,
        package_name=name,
        share_destination=f"s3://destination/{name}/",
        destination_type=DestinationType.S3,
        destination_bucket="destination",
        destination_prefix=f"{name}/",
        status=PushStatus.RUNNING,
        step=PushStep.COPYING,
        start_time=timezone.now(),
        file_count=4,
    )


def run() -> dict[str, Any]:
    """What happens, as plain values (compared by the test on either database)."""
    from django.conf import settings
    from django.db import connection
    from django.utils import timezone

    from packages_app.models import Package, PackageStatus
    from packages_app.services import packages_fail_stuck
    from sharing_app.push import runner, services
    from sharing_app.push.models import PushFile, PushFileStatus, PushJob

    messages = Messages()
    logging.getLogger("datasharing.jobs").addHandler(messages)

    # A copier claims three files and records one (raw SQL: created_at, started_at,
    # heartbeat_at, completed_at and the job's last_progress_time); then its worker dies.
    job = _copying_push("raw-sql")
    services._create_ledger(job, job.package)
    claimed = runner._claim(job.id, "lost-copier", 3, job, lambda _job, path: path)
    runner._record(
        job.id,
        "lost-copier",
        [
            runner.FileOutcome(
                claimed[0].id,
                PushFileStatus.SUCCEEDED,
                destination_etag="0" * 32,
                verification_method="etag",
            )
        ],
    )
    job.refresh_from_db()
    recorded = PushFile.objects.get(id=claimed[0].id)
    # What raw SQL wrote compares equal, in SQL, to what the ORM read back.
    job_matches = PushJob.objects.filter(
        id=job.id, last_progress_time=job.last_progress_time
    ).count()
    file_matches = PushFile.objects.filter(
        id=recorded.id,
        created_at=recorded.created_at,
        started_at=recorded.started_at,
        heartbeat_at=recorded.heartbeat_at,
        completed_at=recorded.completed_at,
    ).count()
    later = timezone.now() + dt.timedelta(seconds=settings.PUSH_STALE_AFTER_SECONDS + 1)
    reaped = services.push_reconcile(now=later)
    job.refresh_from_db()

    # A timestamp written as Python's sqlite3 adapter writes it (`...+00:00`), as raw SQL did
    # before it used `db_datetime`: the reaper cannot claim the job there, and says why.
    foreign = _copying_push("foreign-format")
    long_ago = timezone.now() - dt.timedelta(hours=1)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {PushJob._meta.db_table} SET last_progress_time = %s WHERE id = %s",  # noqa: S608
            [long_ago.isoformat(" "), foreign.id],
        )
    reaped_foreign = services.push_reconcile()

    # Packages, written by the ORM only, on the same reaper.
    stuck_package = Package.objects.create(
        package_name="stuck",
        request={},
        status=PackageStatus.RUNNING,
        step="resolving",
        last_progress_time=timezone.now()
        - dt.timedelta(seconds=settings.PACKAGE_STUCK_AFTER_SECONDS + 60),
    )
    packages = packages_fail_stuck()
    stuck_package.refresh_from_db()

    return {
        "vendor": connection.vendor,
        "job_matches": job_matches,
        "file_matches": file_matches,
        "reaped": reaped,
        "resume_count": job.resume_count,
        "file_states": sorted(PushFile.objects.filter(job=job).values_list("status", flat=True)),
        "reaped_foreign": reaped_foreign,
        "packages": packages,
        "package_status": stuck_package.status,
        "log": messages.lines,
    }


if __name__ == "__main__":
    import django

    django.setup()
    from datasharing import jobs
    from datasharing.celery import app

    # A fresh process (as a web process is) has not imported the task modules: enqueueing by name
    # finds the tasks anyway.
    imported_before = "sharing_app.push_copy" in app.tasks
    resolved = jobs.task_named("sharing_app.push_copy").name
    result = run() | {"task_imported_before": imported_before, "task_resolved": resolved}
    with open(sys.argv[1], "w") as out:
        json.dump(result, out)
