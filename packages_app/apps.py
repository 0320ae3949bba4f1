from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _ensure_default_filters(**_: Any) -> None:
    """After migrate (and after a test flush): install the default workflow file filters when the
    table is empty. Edited or deleted defaults are left alone while any filter exists."""
    from packages_app.workflow_filters.defaults import seed_default_filters
    from packages_app.workflow_filters.models import WorkflowFileFilter, WorkflowFileFilterRule

    seed_default_filters(WorkflowFileFilter, WorkflowFileFilterRule, only_if_empty=True)


class PackagesAppConfig(AppConfig):
    name = "packages_app"
    verbose_name = "Packages"

    def ready(self) -> None:
        from django.conf import settings

        from datasharing import jobs
        from datasharing.beat import PeriodicTaskSpec, register_periodic
        from packages_app.lifecycle import PACKAGE_JOB_KIND

        post_migrate.connect(
            _ensure_default_filters, sender=self, dispatch_uid="packages_app.default_filters"
        )
        # Stuck packages: RUNNING/UNARCHIVING ones without progress past
        # PACKAGE_STUCK_AFTER_SECONDS fail, PENDING ones are queued again (the one reaper, beat).
        jobs.register_job_kind(PACKAGE_JOB_KIND)
        register_periodic(
            PeriodicTaskSpec(
                name="packages: poll archive restores",
                task="packages_app.packages_restores_poll",
                every_seconds=settings.PACKAGE_RESTORE_POLL_SECONDS,
                description="Check the restore state of UNARCHIVING packages' files.",
            )
        )
        register_periodic(
            PeriodicTaskSpec(
                name="packages: delete artifacts of expired packages",
                task="packages_app.packages_expire_artifacts",
                every_seconds=settings.PACKAGE_EXPIRY_CHECK_SECONDS,
                description="Delete the report, manifest, checksums and download scripts of "
                "packages past their expiry (PACKAGE_EXPIRY_DAYS).",
            )
        )
