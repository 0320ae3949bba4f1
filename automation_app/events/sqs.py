"""The one module that talks to Amazon SQS (the platform events queue)."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config
from django.conf import settings


@dataclass(frozen=True)
class QueueMessage:
    message_id: str
    receipt_handle: str
    body: str
    receive_count: int


@functools.lru_cache(maxsize=4)
def _client(endpoint_url: str | None, region: str) -> Any:
    return boto3.session.Session().client(
        "sqs",
        endpoint_url=endpoint_url,
        config=Config(
            region_name=region,
            retries={"max_attempts": 5, "mode": "standard"},
            # The long poll holds the connection up to 20 s.
            read_timeout=max(60, settings.EVENTS_WAIT_SECONDS + 10),
        ),
    )


def client() -> Any:
    return _client(settings.AWS_ENDPOINT_URL_SQS, settings.AWS_REGION)


def sqs_receive(
    *, queue_url: str, max_messages: int, wait_seconds: int, visibility_timeout: int
) -> list[QueueMessage]:
    """One long poll: up to `max_messages` messages, hidden from others for `visibility_timeout`."""
    response = client().receive_message(
        QueueUrl=queue_url,
        MaxNumberOfMessages=max(1, min(10, max_messages)),
        WaitTimeSeconds=max(0, min(20, wait_seconds)),
        VisibilityTimeout=visibility_timeout,
        AttributeNames=["ApproximateReceiveCount"],
    )
    return [
        QueueMessage(
            message_id=message["MessageId"],
            receipt_handle=message["ReceiptHandle"],
            body=message.get("Body", ""),
            receive_count=int(message.get("Attributes", {}).get("ApproximateReceiveCount", 1)),
        )
        for message in response.get("Messages", [])
    ]


def sqs_delete(*, queue_url: str, receipt_handle: str) -> None:
    client().delete_message(QueueUrl=queue_url, ReceiptHandle=receipt_handle)


def sqs_release(*, queue_url: str, receipt_handles: list[str]) -> None:
    """Make received but unprocessed messages visible again at once (on shutdown)."""
    for start in range(0, len(receipt_handles), 10):
        client().change_message_visibility_batch(
            QueueUrl=queue_url,
            Entries=[
                {"Id": str(index), "ReceiptHandle": handle, "VisibilityTimeout": 0}
                for index, handle in enumerate(receipt_handles[start : start + 10])
            ],
        )
