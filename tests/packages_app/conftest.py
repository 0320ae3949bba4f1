"""Fixtures for packaging tests: request builders, moto restore control, EventBridge capture."""

from __future__ import annotations

import json
import os
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest

from catalog_app import demo

SUBJECT_1_TUMOR, SUBJECT_1_NORMAL, SUBJECT_1_WTS = "L2400104", "L2400105", "L2400106"
RUN_2 = "241101_A01052_0221_AHVTC2DSXC"


def request(**fields: Any) -> dict[str, Any]:
    """A camelCase package request; `dataTypeList` defaults to FASTQs."""
    fields.setdefault("dataTypeList", ["fastq"])
    return fields


@pytest.fixture
def build_now(django_capture_on_commit_callbacks: Any) -> Callable[..., Any]:
    """Create a package and run its pipeline inline (the on-commit enqueue executes eagerly)."""
    from packages_app import services

    def create(name: str = "test-package", user: Any = None, **fields: Any) -> Any:
        with django_capture_on_commit_callbacks(execute=True):
            package = services.package_create(
                package_name=name, package_request=request(**fields), user=user
            )
        package.refresh_from_db()
        return package

    return create


def _moto(path: str, body: dict[str, Any]) -> None:
    url = os.environ["TEST_MOTO_URL"] + path
    req = urllib.request.Request(
        url, data=json.dumps(body).encode(), method="POST", headers={"Content-Type": "text/json"}
    )
    with urllib.request.urlopen(req, timeout=10) as response:
        response.read()


@pytest.fixture
def moto_restores_one_step_per_read(moto_s3: str) -> Iterator[None]:
    """moto completes a restore immediately by default. Here each read of an object (HEAD, GET)
    moves a restore one state on: not restored -> in progress -> restored, so a poller sees the
    restore ongoing first and finished on its next look."""
    _moto(
        "/moto-api/state-manager/set-transition",
        {"model_name": "s3::keyrestore", "transition": {"progression": "manual", "times": 1}},
    )
    try:
        yield
    finally:
        _moto("/moto-api/state-manager/unset-transition", {"model_name": "s3::keyrestore"})


@pytest.fixture
def moto_bucket(db: Any, moto_s3: str) -> Callable[[str], str]:
    """Create buckets in moto that are allowed catalogue sources."""
    from datasharing import s3
    from tests.conftest import allow_source

    def create(prefix: str = "moto") -> str:
        name = f"{prefix}-{uuid.uuid4().hex[:12]}"
        s3.ensure_bucket(name)
        allow_source(f"s3://{name}/")
        return name

    return create


class EventCapture:
    """State-change events as a consumer sees them: EventBridge bus -> rule -> SQS queue."""

    def __init__(self, endpoint: str, bus: str) -> None:
        kwargs = {"endpoint_url": endpoint, "region_name": "us-east-1"}
        self.events = boto3.client("events", **kwargs)
        self.sqs = boto3.client("sqs", **kwargs)
        self.bus = bus
        self.events.create_event_bus(Name=bus)
        self.queue_url = self.sqs.create_queue(QueueName=f"{bus}-q")["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        self.events.put_rule(
            Name=f"{bus}-packages",
            EventBusName=bus,
            EventPattern=json.dumps({"detail-type": ["DataPackagingJobStateChange"]}),
        )
        self.events.put_targets(
            Rule=f"{bus}-packages", EventBusName=bus, Targets=[{"Id": "q", "Arn": arn}]
        )

    def received(self) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = []
        while True:
            batch = self.sqs.receive_message(
                QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0
            ).get("Messages", [])
            if not batch:
                return messages
            for message in batch:
                messages.append(json.loads(message["Body"]))
                self.sqs.delete_message(
                    QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"]
                )


@pytest.fixture
def event_capture(settings: Any) -> EventCapture:
    bus = f"datasharing-test-{uuid.uuid4().hex[:8]}"
    settings.EVENT_BUS_NAME = bus
    settings.AWS_ENDPOINT_URL_EVENTS = os.environ["TEST_MOTO_URL"]
    return EventCapture(os.environ["TEST_MOTO_URL"], bus)


def demo_fastq_name(library_id: str, lane: int, read: int, *, ora: bool = False) -> str:
    """The file name demo.py gives a library's FASTQ (sample numbers follow the library order)."""
    ids = [lib.library_id for lib in demo.LIBRARIES]
    number = ids.index(library_id) + 1
    return f"{library_id}_S{number}_L{lane:03d}_R{read}_001.fastq.{'ora' if ora else 'gz'}"
