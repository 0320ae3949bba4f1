"""Fixtures for automatic sharing: an SQS queue on the moto server, rules, event bodies."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from django.contrib.auth.models import User

from automation_app.models import AutoShareRule
from sharing_app.models import AllowedDestination

RUN_2 = "241101_A01052_0221_AHVTC2DSXC"  # demo run with CUP and PanCan libraries


class Queue:
    """A real SQS queue on the moto server, spoken to over HTTP."""

    def __init__(self, url: str, client: Any) -> None:
        self.url = url
        self.client = client

    def send(self, body: dict[str, Any] | str) -> str:
        text = body if isinstance(body, str) else json.dumps(body)
        return str(self.client.send_message(QueueUrl=self.url, MessageBody=text)["MessageId"])

    def count(self) -> int:
        """Messages on the queue, visible or being processed."""
        attributes = self.client.get_queue_attributes(
            QueueUrl=self.url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"]) + int(
            attributes["ApproximateNumberOfMessagesNotVisible"]
        )

    def visible(self) -> int:
        attributes = self.client.get_queue_attributes(
            QueueUrl=self.url, AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"])


@pytest.fixture
def events_queue(settings: Any) -> Queue:
    url = os.environ["TEST_MOTO_URL"]
    settings.AWS_ENDPOINT_URL_SQS = url
    client = boto3.session.Session().client("sqs", endpoint_url=url, region_name="us-east-1")
    queue_url = client.create_queue(QueueName=f"events-{uuid.uuid4().hex[:12]}")["QueueUrl"]
    settings.EVENTS_QUEUE_URL = queue_url
    settings.EVENTS_WAIT_SECONDS = 0
    return Queue(queue_url, client)


@pytest.fixture
def allow_destination(db: Any) -> Callable[[str], None]:
    def allow(prefix: str) -> None:
        AllowedDestination.objects.get_or_create(prefix=prefix)

    return allow


@pytest.fixture
def make_rule(db: Any, allow_destination: Callable[[str], None]) -> Callable[..., AutoShareRule]:
    """A rule created through the service (valid, destination allowed)."""
    from automation_app.rules import auto_share_rule_create

    def create(user: User | None = None, **values: Any) -> AutoShareRule:
        values.setdefault("jobName", f"rule-{uuid.uuid4().hex[:8]}")
        values.setdefault("projectIdList", ["CUP"])
        values.setdefault("dataTypeList", ["fastq"])
        values.setdefault("shareDestination", "s3://recipient-bucket/cup/")
        values.setdefault("requireApproval", False)
        allow_destination(values["shareDestination"])
        return auto_share_rule_create(values=values, user=user)

    return create


def eventbridge(detail_type: str, detail: dict[str, Any], event_id: str = "") -> dict[str, Any]:
    return {
        "version": "0",
        "id": event_id or str(uuid.uuid4()),
        "detail-type": detail_type,
        "source": "orcabus.test",
        "account": "123456789012",
        "time": "2025-01-01T00:00:00Z",
        "region": "ap-southeast-2",
        "resources": [],
        "detail": detail,
    }
