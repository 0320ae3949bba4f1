"""The one module that publishes to Amazon EventBridge (job state-change events).

Publishing is best effort after commit: a job's state is already saved; a failure to announce it
is logged, never turned into a failed job.
"""

from __future__ import annotations

import functools
import json
import logging
from typing import Any

import boto3
from botocore.config import Config
from django.conf import settings
from django.db import transaction

logger = logging.getLogger(__name__)


@functools.lru_cache(maxsize=4)
def _client(endpoint_url: str | None, region: str) -> Any:
    return boto3.session.Session().client(
        "events",
        endpoint_url=endpoint_url,
        config=Config(region_name=region, retries={"max_attempts": 5, "mode": "standard"}),
    )


def _put(detail_type: str, detail: dict[str, Any]) -> None:
    try:
        response = _client(settings.AWS_ENDPOINT_URL_EVENTS, settings.AWS_REGION).put_events(
            Entries=[
                {
                    "EventBusName": settings.EVENT_BUS_NAME,
                    "Source": settings.EVENT_SOURCE,
                    "DetailType": detail_type,
                    "Detail": json.dumps(detail, default=str),
                }
            ]
        )
        if response.get("FailedEntryCount"):
            logger.warning(
                "EventBridge rejected %s event: %s", detail_type, response.get("Entries")
            )
    except Exception:
        logger.exception("Could not publish %s event", detail_type)


def publish_on_commit(detail_type: str, detail: dict[str, Any]) -> None:
    """Publish an event once the current transaction commits (no-op without EVENT_BUS_NAME)."""
    if not settings.EVENT_BUS_NAME:
        return
    transaction.on_commit(lambda: _put(detail_type, detail))
