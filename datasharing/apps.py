from django.apps import AppConfig
from django.db.models.signals import post_migrate


class DatasharingConfig(AppConfig):
    name = "datasharing"
    verbose_name = "Data sharing"

    def ready(self) -> None:
        from datasharing.auth import ensure_role_groups
        from datasharing.beat import sync_periodic_tasks

        # Runs after the last app migrates; every app's ready() has registered its schedules.
        post_migrate.connect(sync_periodic_tasks, dispatch_uid="datasharing.sync_periodic_tasks")
        post_migrate.connect(ensure_role_groups, dispatch_uid="datasharing.ensure_role_groups")
