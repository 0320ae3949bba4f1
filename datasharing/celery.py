"""The Celery application shared by the worker, beat and the web process (for enqueueing)."""

import os

from celery import Celery
from celery.signals import setup_logging

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "datasharing.settings")

app = Celery("datasharing")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# Task modules not named tasks.py (an app's areas kept apart; see each module).
app.autodiscover_tasks(["packages_app"], related_name="report_tasks")
app.autodiscover_tasks(["automation_app"], related_name="periodic_tasks")
app.autodiscover_tasks(["automation_app"], related_name="notification_tasks")


@setup_logging.connect
def _use_django_logging(**_: object) -> None:
    """Celery keeps Django's LOGGING configuration (structured, with job ids)."""
    import logging.config

    from django.conf import settings

    logging.config.dictConfig(settings.LOGGING)
