from django.apps import AppConfig


class SharingAppConfig(AppConfig):
    name = "sharing_app"
    verbose_name = "Sharing"

    def ready(self) -> None:
        from django.conf import settings

        from datasharing.beat import PeriodicTaskSpec, register_periodic

        register_periodic(
            PeriodicTaskSpec(
                name="push reconciliation",
                task="sharing_app.push_reconcile",
                every_seconds=settings.PUSH_RECONCILE_INTERVAL_SECONDS,
                description="Hands out files of lost workers again, resumes pushes without "
                "progress and fails those that resuming does not help.",
            )
        )
