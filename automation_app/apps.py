from django.apps import AppConfig


class AutomationAppConfig(AppConfig):
    name = "automation_app"
    verbose_name = "Automation"

    def ready(self) -> None:
        from django.conf import settings

        from automation_app import shares
        from datasharing import hooks
        from datasharing.beat import PeriodicTaskSpec, register_periodic

        # Packages and pushes finish in worker processes; these move the automatic share on.
        hooks.register(hooks.PACKAGE_FINISHED, shares.on_package_finished)
        hooks.register(hooks.PUSH_FINISHED, shares.on_push_finished)
        register_periodic(
            PeriodicTaskSpec(
                name="automatic sharing: reconciliation",
                task="automation_app.auto_shares_reconcile",
                every_seconds=settings.AUTO_SHARE_RECONCILE_SECONDS,
                description="Evaluate runs catalogued in the last AUTO_SHARE_LOOKBACK_HOURS that "
                "no event announced; advance automatic shares whose package or push finished "
                "while the hook was lost.",
            )
        )
