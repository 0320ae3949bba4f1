from django.apps import AppConfig


class AutomationAppConfig(AppConfig):
    name = "automation_app"
    verbose_name = "Automation"

    def ready(self) -> None:
        # Admin pages kept apart from admin.py (notifications, approval actions).
        from automation_app import approval_admin  # noqa: F401
