from typing import Any

from django.apps import AppConfig, apps
from django.db.models.signals import post_migrate


def ensure_role_groups(**_: Any) -> None:
    """The role groups exist after every migrate, and again after a database flush (transactional
    tests flush every table, and the migration that created the groups does not run again)."""
    from django.contrib.auth.models import Group

    from datasharing.auth import ROLE_GROUPS

    for name in ROLE_GROUPS:
        Group.objects.get_or_create(name=name)


class DatasharingConfig(AppConfig):
    name = "datasharing"
    verbose_name = "Data sharing"

    def ready(self) -> None:
        from django.conf import settings

        from datasharing.beat import PeriodicTaskSpec, register_periodic, sync_periodic_tasks

        register_periodic(
            PeriodicTaskSpec(
                name="jobs: recover stuck jobs",
                task="datasharing.jobs_reap",
                every_seconds=settings.JOBS_REAP_INTERVAL_SECONDS,
                description="For every kind of job (packages, pushes): resume or fail jobs "
                "without progress, by each kind's rules (datasharing.jobs).",
            )
        )

        # Runs after the last app migrates; every app's ready() has registered its schedules.
        post_migrate.connect(sync_periodic_tasks, dispatch_uid="datasharing.sync_periodic_tasks")
        # Sent per app with models; this app has none, so listen for auth's.
        post_migrate.connect(
            ensure_role_groups,
            sender=apps.get_app_config("auth"),
            dispatch_uid="datasharing.ensure_role_groups",
        )
