"""Health endpoints, none of which needs credentials.

- `/healthz/live`: the process answers (no dependency is consulted): 200.
- `/healthz`: the database, the broker, S3 (the artifact bucket) and the Celery workers; 200 when
  all are up, 503 naming what is down.
- `/healthz/ready`: the same checks, plus every worker's heartbeat judged (state and reason) and
  the depth of the task queue when the broker can tell it cheaply.

The worker check is ok when at least one worker is ok or busy (datasharing/worker/liveness.py);
it names every worker heard from, its state and why.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.db import connection
from django.utils import timezone
from drf_spectacular.utils import extend_schema, extend_schema_serializer
from kombu import Connection
from kombu.transport import virtual
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from datasharing import s3
from datasharing.worker.liveness import WorkerState
from datasharing.worker.selectors import WorkerReport, worker_reports_list

logger = logging.getLogger(__name__)

# Best first: the worker check reports the best state of any worker.
STATE_ORDER = [
    WorkerState.OK,
    WorkerState.BUSY,
    WorkerState.STARTING,
    WorkerState.UNRESPONSIVE,
]


def _broker_connection() -> Connection:
    return Connection(
        settings.CELERY_BROKER_URL,
        transport=settings.CELERY_BROKER_TRANSPORT,
        transport_options=settings.CELERY_BROKER_TRANSPORT_OPTIONS,
    )


def _check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _check_broker() -> None:
    with _broker_connection() as conn:
        conn.ensure_connection(max_retries=1, timeout=3)


def _check_s3() -> None:
    s3.bucket_is_reachable(settings.ARTIFACT_BUCKET)


CHECKS: dict[str, Callable[[], None]] = {
    "database": _check_database,
    "broker": _check_broker,
    "s3": _check_s3,
}


def queue_depth() -> int | None:
    """Messages waiting in the default task queue; None when the broker cannot say it cheaply.

    kombu's virtual transports count it: Redis with LLEN, the filesystem broker by listing the
    queue folder.
    """
    try:
        with _broker_connection() as conn:
            conn.ensure_connection(max_retries=1, timeout=3)
            channel = conn.default_channel
            if not isinstance(channel, virtual.Channel):
                return None
            return int(channel._size(settings.CELERY_TASK_DEFAULT_QUEUE))
    except Exception as exc:  # noqa: BLE001 - a depth we cannot read is not reported
        logger.warning("queue depth unavailable: %s", exc)
        return None


@dataclass(frozen=True)
class WorkerCheck:
    healthy: bool
    summary: str  # "<best state>: <each worker, its state and why>"
    reports: list[WorkerReport]


def check_workers() -> WorkerCheck:
    try:
        reports = worker_reports_list(now=timezone.now())
    except Exception as exc:  # noqa: BLE001 - any failure means "down"
        logger.warning("health check worker failed: %s", exc)
        return WorkerCheck(False, f"down: {type(exc).__name__}", [])
    if not reports:
        return WorkerCheck(False, f"{WorkerState.NONE}: no worker has sent a heartbeat", [])
    best = min(reports, key=lambda report: STATE_ORDER.index(report.liveness.state))
    described = "; ".join(
        f"{report.heartbeat.hostname} (pid {report.heartbeat.pid}) {report.liveness.state}:"
        f" {report.liveness.reason}"
        for report in reports
    )
    return WorkerCheck(best.liveness.healthy, f"{best.liveness.state}: {described}", reports)


@dataclass(frozen=True)
class Checked:
    checks: dict[str, str]
    down: list[str]
    workers: WorkerCheck

    @property
    def status(self) -> str:
        return "ok" if not self.down else f"down: {', '.join(self.down)}"


def run_checks() -> Checked:
    results: dict[str, str] = {}
    down: list[str] = []
    for name, check in CHECKS.items():
        try:
            check()
            results[name] = "ok"
        except Exception as exc:  # noqa: BLE001 - any failure means "down"
            logger.warning("health check %s failed: %s", name, exc)
            results[name] = f"down: {type(exc).__name__}"
            down.append(name)
    workers = check_workers()
    results["worker"] = workers.summary
    if not workers.healthy:
        down.append("worker")
    return Checked(results, down, workers)


class HealthView(APIView):
    authentication_classes: list[type] = []
    permission_classes = [AllowAny]

    @extend_schema_serializer(component_name="Health")
    class OutputSerializer(serializers.Serializer):
        status = serializers.CharField()
        checks = serializers.DictField()

    # The same body with 503; its own component, as clients generated from the document know it.
    @extend_schema_serializer(component_name="HealthDown")
    class DownOutputSerializer(OutputSerializer):
        pass

    @extend_schema(
        responses={200: OutputSerializer, 503: DownOutputSerializer},
        auth=[],
    )
    def get(self, request: Request) -> Response:
        checked = run_checks()
        body = {"status": checked.status, "checks": checked.checks}
        if checked.down:
            return Response(self.DownOutputSerializer(body).data, status=503)
        return Response(self.OutputSerializer(body).data, status=200)


class HealthLiveView(APIView):
    authentication_classes: list[type] = []
    permission_classes = [AllowAny]

    @extend_schema_serializer(component_name="Liveness")
    class OutputSerializer(serializers.Serializer):
        status = serializers.CharField()

    @extend_schema(responses={200: OutputSerializer}, auth=[])
    def get(self, request: Request) -> Response:
        return Response(self.OutputSerializer({"status": "ok"}).data)


@extend_schema_serializer(component_name="ReadinessWorker")
class WorkerReportSerializer(serializers.Serializer):
    """One worker's last heartbeat, judged (a `WorkerReport`)."""

    hostname = serializers.CharField(source="heartbeat.hostname")
    pid = serializers.IntegerField(source="heartbeat.pid")
    pool = serializers.CharField(source="heartbeat.pool")
    concurrency = serializers.IntegerField(source="heartbeat.concurrency")
    state = serializers.CharField(source="liveness.state")
    reason = serializers.CharField(source="liveness.reason")
    started_at = serializers.DateTimeField(source="heartbeat.started_at")
    stamped_at = serializers.DateTimeField(source="heartbeat.stamped_at")
    canary_ran_at = serializers.DateTimeField(source="heartbeat.canary_ran_at", allow_null=True)
    active_tasks = serializers.IntegerField(source="heartbeat.active_tasks")
    processed_tasks = serializers.IntegerField(source="heartbeat.processed_tasks")
    last_progress_at = serializers.DateTimeField(source="heartbeat.last_progress_at")


class HealthReadyView(APIView):
    authentication_classes: list[type] = []
    permission_classes = [AllowAny]

    @extend_schema_serializer(component_name="Readiness")
    class OutputSerializer(serializers.Serializer):
        status = serializers.CharField()
        checks = serializers.DictField(child=serializers.CharField())
        workers = WorkerReportSerializer(many=True)
        queue_depth = serializers.IntegerField(
            allow_null=True, help_text="Tasks waiting in the default queue (null: unknown)."
        )

    @extend_schema_serializer(component_name="ReadinessDown")
    class DownOutputSerializer(OutputSerializer):
        pass

    @extend_schema(
        responses={200: OutputSerializer, 503: DownOutputSerializer},
        auth=[],
    )
    def get(self, request: Request) -> Response:
        checked = run_checks()
        body = {
            "status": checked.status,
            "checks": checked.checks,
            "workers": checked.workers.reports,
            "queue_depth": queue_depth() if "broker" not in checked.down else None,
        }
        if checked.down:
            return Response(self.DownOutputSerializer(body).data, status=503)
        return Response(self.OutputSerializer(body).data, status=200)
