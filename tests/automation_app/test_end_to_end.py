"""Acceptance: a FastqListRowsAdded event on SQS -> listener -> catalog -> package built by a real
Celery worker -> push to S3 (no approval) -> share SUCCEEDED; delivered many times, it still
gives one package and one push."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.core.management import call_command

from automation_app.events.models import EventStatus, ReceivedEvent
from automation_app.models import AutoShare, AutoShareRule, AutoShareStatus
from catalog_app.models import Fastq
from datasharing import s3
from packages_app.models import Package
from sharing_app.push.models import PushJob, PushStatus
from tests.automation_app.conftest import Queue, eventbridge
from tests.automation_app.events.test_events import NEW_RUN, upload_fastqs
from tests.conftest import wait_for


def drain(queue: Queue) -> None:
    """Run the listener one cycle at a time until the queue is empty."""

    def empty() -> bool:
        call_command("listen_events", "--once", "--wait-seconds", "0")
        return queue.count() == 0

    wait_for(empty, timeout=60, message="the listener did not empty the queue")


def test_fastq_list_event_is_packaged_and_pushed_once_however_often_it_arrives(
    celery_worker: Any,
    demo_catalog: Path,
    events_queue: Queue,
    source_bucket_factory: Callable[[str], str],
    bucket_factory: Callable[[str], str],
    make_rule: Callable[..., AutoShareRule],
) -> None:
    source = source_bucket_factory("e2e-primary")
    destination = bucket_factory("e2e-recipient")
    rule = make_rule(jobName="cup-auto", shareDestination=f"s3://{destination}/auto/")
    detail = {
        "instrumentRunId": NEW_RUN,
        "baseUri": f"s3://{source}/primary/{NEW_RUN}/",
        "rows": upload_fastqs(source),
    }
    same = eventbridge("FastqListRowsAdded", detail, event_id="fastq-list-event-1")
    for _ in range(3):
        events_queue.send(same)  # redeliveries of one event
    for index in range(3):
        # The same news, announced again with new event ids.
        events_queue.send(eventbridge("FastqListRowsAdded", detail, event_id=f"again-{index}"))

    drain(events_queue)

    assert Fastq.objects.filter(run__instrument_run_id=NEW_RUN).count() == 2
    assert ReceivedEvent.objects.count() == 4
    assert set(ReceivedEvent.objects.values_list("status", flat=True)) == {EventStatus.PROCESSED}

    def finished() -> AutoShare | None:
        share = AutoShare.objects.filter(rule=rule).first()
        if share and share.status in (AutoShareStatus.SUCCEEDED, AutoShareStatus.FAILED):
            return share
        return None

    share = wait_for(
        finished, timeout=240, message=f"the share did not finish:\n{celery_worker.log()[-4000:]}"
    )
    assert share.status == AutoShareStatus.SUCCEEDED, share.error
    assert AutoShare.objects.count() == 1
    assert Package.objects.count() == 1
    assert PushJob.objects.count() == 1
    push = PushJob.objects.get()
    assert push.status == PushStatus.SUCCEEDED
    assert push.package_id == share.package_id

    pushed = {obj.key for obj in s3.list_objects(destination, "auto/")}
    fastqs = sorted(k for k in pushed if k.startswith(f"auto/fastq/{NEW_RUN}/"))
    assert [k.rsplit("/", 1)[-1] for k in fastqs] == [
        "L2400104_S1_L001_R1_001.fastq.gz",
        "L2400104_S1_L001_R2_001.fastq.gz",
        "L2400104_S1_L002_R1_001.fastq.gz",
        "L2400104_S1_L002_R2_001.fastq.gz",
    ]
    assert "auto/manifest.tsv" in pushed
