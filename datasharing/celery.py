"""The Celery application shared by the worker, beat and the web process (for enqueueing)."""

import os

from celery import Celery
from celery.signals import setup_logging

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "datasharing.settings")

app = Celery("datasharing")
app.config_from_object("django.conf:settings", namespace="CELERY")
# Every package (app or area) with a `tasks` module; a test checks that none is missing.
TASK_PACKAGES = [
    "datasharing",
    "datasharing.worker",
    "packages_app",
    "packages_app.report",
    "sharing_app.push",
    "automation_app",
    "automation_app.notifications",
]
app.autodiscover_tasks(TASK_PACKAGES)

# Connects the worker's heartbeat, canary and watchdog to the worker's start and stop.
import datasharing.worker.heartbeat  # noqa: E402, F401


@setup_logging.connect
def _use_django_logging(**_: object) -> None:
    """Celery keeps Django's LOGGING configuration (structured, with job ids)."""
    import logging.config

    from django.conf import settings

    logging.config.dictConfig(settings.LOGGING)
