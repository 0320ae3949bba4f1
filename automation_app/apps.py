from django.apps import AppConfig


class AutomationAppConfig(AppConfig):
    name = "automation_app"
    verbose_name = "Automation"
