from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate


def ensure_role_groups(**_: Any) -> None:
    """The role groups exist after every migrate, and after a flush (which re-emits post_migrate),
    not only after the data migration that first created them."""
    from django.contrib.auth.models import Group

    from datasharing.auth import ROLE_GROUPS

    for name in ROLE_GROUPS:
        Group.objects.get_or_create(name=name)


class DatasharingConfig(AppConfig):
    name = "datasharing"
    verbose_name = "Data sharing"

    def ready(self) -> None:
        from datasharing.beat import sync_periodic_tasks

        # Runs after the last app migrates; every app's ready() has registered its schedules.
        post_migrate.connect(sync_periodic_tasks, dispatch_uid="datasharing.sync_periodic_tasks")
        post_migrate.connect(ensure_role_groups, dispatch_uid="datasharing.ensure_role_groups")
