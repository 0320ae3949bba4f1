"""`/healthz`: database, broker and S3 reachability. 200 when all are up, 503 naming what is down."""

import logging

from django.conf import settings
from django.db import connection
from drf_spectacular.utils import extend_schema, extend_schema_serializer
from kombu import Connection
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from datasharing import s3

logger = logging.getLogger(__name__)


def _check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _check_broker() -> None:
    with Connection(
        settings.CELERY_BROKER_URL, transport_options=settings.CELERY_BROKER_TRANSPORT_OPTIONS
    ) as conn:
        conn.ensure_connection(max_retries=1, timeout=3)


def _check_s3() -> None:
    s3.bucket_is_reachable(settings.ARTIFACT_BUCKET)


CHECKS = {"database": _check_database, "broker": _check_broker, "s3": _check_s3}


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
        results: dict[str, str] = {}
        for name, check in CHECKS.items():
            try:
                check()
                results[name] = "ok"
            except Exception as exc:  # noqa: BLE001 - any failure means "down"
                logger.warning("health check %s failed: %s", name, exc)
                results[name] = f"down: {type(exc).__name__}"
        down = [name for name, state in results.items() if state != "ok"]
        body = {"status": "ok" if not down else f"down: {', '.join(down)}", "checks": results}
        serializer = self.DownOutputSerializer(body) if down else self.OutputSerializer(body)
        return Response(serializer.data, status=503 if down else 200)
