from django.apps import AppConfig


class SharingAppConfig(AppConfig):
    name = "sharing_app"
    verbose_name = "Sharing"
