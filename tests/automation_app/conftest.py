"""Fixtures for automatic sharing: an SQS queue on the moto server, rules, event bodies.

Approvals and notifications: a fake Slack Web API, signed Slack requests, and automatic shares
awaiting approval with real source objects in SeaweedFS.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import boto3
import pytest
from django.contrib.auth.models import User

from automation_app.models import AutoShare, AutoShareRule, AutoShareStatus
from automation_app.notifications.slack import slack_signature
from catalog_app.models import SequencingRun
from datasharing import s3
from sharing_app.destinations.models import AllowedDestination
from tests.factories import make_frozen_package
from tests.fake_slack import FakeSlack

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


SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
CHANNEL = "C0APPROVALS"
APPROVER = "U0APPROVER"
SOURCE_BUCKET = "approvals-test-source"
DESTINATION_BUCKET = "approvals-test-destination"
PUBLIC_BASE_URL = "https://datasharing.example.org"


@pytest.fixture
def fake_slack(settings: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeSlack]:
    """A fake Slack Web API; settings (and the environment, for a worker started after this
    fixture) point the Slack client at it and set the signing secret."""
    fake = FakeSlack(channels=(CHANNEL,)).start()
    values = {
        "SLACK_API_URL": fake.url,
        "SLACK_BOT_TOKEN": fake.token,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "PUBLIC_BASE_URL": PUBLIC_BASE_URL,
        "NOTIFY_RETRY_BASE_SECONDS": "0.1",
        "NOTIFY_RETRY_MAX_SECONDS": "0.5",
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    settings.SLACK_API_URL = fake.url
    settings.SLACK_BOT_TOKEN = fake.token
    settings.SLACK_SIGNING_SECRET = SIGNING_SECRET
    settings.PUBLIC_BASE_URL = PUBLIC_BASE_URL
    settings.NOTIFY_RETRY_BASE_SECONDS = 0.1
    settings.NOTIFY_RETRY_MAX_SECONDS = 0.5
    try:
        yield fake
    finally:
        fake.stop()


@pytest.fixture
def curators_may_approve(db: Any) -> None:
    """The grant migration 0002_approvals gives the curator group. Transactional tests flush
    every table (and Django recreates only groups and permissions, not grants), so tests that
    rely on it restore it first; `test_the_migration_lets_curators_approve` checks the migration."""
    from django.contrib.auth.models import Group, Permission

    permission = Permission.objects.get(
        content_type__app_label="automation_app", codename="approve_autoshare"
    )
    Group.objects.get(name="curator").permissions.add(permission)


@pytest.fixture(scope="session")
def approval_buckets() -> tuple[str, str]:
    """SeaweedFS gives each bucket volumes: the approval tests share two, each under prefixes."""
    for bucket in (SOURCE_BUCKET, DESTINATION_BUCKET):
        s3.ensure_bucket(bucket)
    return SOURCE_BUCKET, DESTINATION_BUCKET


@dataclass
class ShareSetup:
    share: AutoShare
    rule: AutoShareRule
    destination_prefix: str
    relative_paths: list[str]

    @property
    def destination(self) -> str:
        return f"s3://{DESTINATION_BUCKET}/{self.destination_prefix}"


@pytest.fixture
def share_factory(
    db: Any,
    approval_buckets: tuple[str, str],
    curator: User,
    settings: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> Callable[..., ShareSetup]:
    """An automatic share AWAITING_APPROVAL: a rule (by the curator, destination allowed), a run,
    and a SUCCEEDED package of two small real objects."""

    def make(
        *,
        approvers: list[str] | None = None,
        emails: list[str] | None = None,
        slack_channel: str = CHANNEL,
        libraries: tuple[str, ...] = ("L2400101", "L2400102"),
        package_name: str = "CUP-auto-241114",
    ) -> ShareSetup:
        tag = uuid.uuid4().hex[:10]
        relative_paths = []
        files = []
        for library in ("L2400101", "L2400102"):
            relative_path = f"fastq/RUN-{tag}/{library}_R1.fastq.gz"
            key = f"src-{tag}/{relative_path}"
            s3.put_object(SOURCE_BUCKET, key, f"@{library}\nACGT\n+\nIIII\n".encode() * 20)
            files.append((SOURCE_BUCKET, key, relative_path))
            relative_paths.append(relative_path)
        destination_prefix = f"dst-{tag}/incoming/"
        destination = f"s3://{DESTINATION_BUCKET}/{destination_prefix}"
        allowed = [*settings.SHARE_ALLOWED_DESTINATIONS, destination]
        settings.SHARE_ALLOWED_DESTINATIONS = allowed
        monkeypatch.setenv("SHARE_ALLOWED_DESTINATIONS", ",".join(allowed))
        rule = AutoShareRule.objects.create(
            job_name=f"cup-fastq-{tag}",
            project_ids=["CUP"],
            data_types=["fastq"],
            share_destination=destination,
            require_approval=True,
            slack_channel=slack_channel,
            notify_emails=["data-team@example.org"] if emails is None else emails,
            slack_approvers=[APPROVER] if approvers is None else approvers,
            created_by=curator,
        )
        run = SequencingRun.objects.create(instrument_run_id=f"241114_A01052_0{tag}")
        package = make_frozen_package(
            files=files, name=package_name, user=curator, libraries=libraries
        )
        share = AutoShare.objects.create(
            rule=rule,
            run=run,
            status=AutoShareStatus.AWAITING_APPROVAL,
            package=package,
            share_destination=destination,
        )
        return ShareSetup(share, rule, destination_prefix, relative_paths)

    return make


# --- Signed Slack requests ----------------------------------------------------------------------


def block_actions_payload(
    *, share_id: str, action_id: str = "auto_share_push", user: str = APPROVER
) -> dict[str, Any]:
    """A `block_actions` payload as Slack sends it when a button of our message is pressed."""
    return {
        "type": "block_actions",
        "user": {"id": user, "username": "someone", "team_id": "T0TEAM"},
        "api_app_id": "A0APP",
        "team": {"id": "T0TEAM", "domain": "facility"},
        "channel": {"id": CHANNEL, "name": "data-approvals"},
        "container": {"type": "message", "message_ts": "1731560000.000100", "channel_id": CHANNEL},
        "trigger_id": "1234.5678.abcd",
        "response_url": "https://hooks.slack.com/actions/T0TEAM/1/abc",
        "actions": [
            {
                "type": "button",
                "action_id": action_id,
                "block_id": "auto_share_decision",
                "value": share_id,
                "action_ts": f"{time.time():.6f}",
            }
        ],
    }


def slack_request(
    payload: Any,
    *,
    secret: str = SIGNING_SECRET,
    timestamp: int | None = None,
    raw_body: bytes | None = None,
) -> tuple[bytes, dict[str, str]]:
    """Body and headers of a signed interactivity request."""
    body = (
        raw_body if raw_body is not None else urlencode({"payload": json.dumps(payload)}).encode()
    )
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    return body, {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": slack_signature(secret=secret, timestamp=stamp, body=body),
    }


def post_slack_action(client: Any, body: bytes, headers: dict[str, str]) -> Any:
    """POST to the Slack endpoint with a Django test client (headers as HTTP_ META keys)."""
    meta = {
        "HTTP_" + name.upper().replace("-", "_"): value
        for name, value in headers.items()
        if name != "Content-Type"
    }
    return client.generic(
        "POST",
        "/api/v1/slack/actions",
        body,
        content_type="application/x-www-form-urlencoded",
        **meta,
    )
