"""`manage.py worker_health`: exit 0 when a Celery worker on this host executes tasks (its
heartbeat says ok or busy), 1 otherwise; prints every such worker's state and why.

The worker container's health check (docker-compose.yml). Celery names a worker `celery@<host>`
by default, so "on this host" means node names ending with `@<this host name>`.
"""

from __future__ import annotations

import socket
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from datasharing.worker.selectors import worker_reports_list


class Command(BaseCommand):
    help = "Exit 0 when a Celery worker on this host executes tasks (by its heartbeat)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--hostname",
            default="",
            help="A worker's node name (default: any worker named `...@<this host>`).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        node = options["hostname"]
        reports = [
            report
            for report in worker_reports_list(
                now=timezone.now(), hostname_suffix=node or f"@{socket.gethostname()}"
            )
            if not node or report.heartbeat.hostname == node
        ]
        for report in reports:
            self.stdout.write(
                f"{report.heartbeat.hostname} (pid {report.heartbeat.pid}):"
                f" {report.liveness.state}: {report.liveness.reason}"
            )
        if not any(report.liveness.healthy for report in reports):
            raise CommandError(
                "no worker here executes tasks" if reports else "no heartbeat from a worker here"
            )
