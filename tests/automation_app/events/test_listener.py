"""`manage.py listen_events` against a real SQS queue (moto server over HTTP): recorded messages
are deleted, a crash leaves the message for redelivery, SIGTERM stops the process cleanly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from typing import Any

import pytest
from django.core.management import call_command

from automation_app.events import services as events
from automation_app.events.models import EventStatus, ReceivedEvent
from tests.automation_app.conftest import Queue, eventbridge
from tests.conftest import ROOT, wait_for


def listen_once() -> None:
    call_command("listen_events", "--once", "--wait-seconds", "0")


def test_malformed_and_unknown_messages_are_recorded_and_deleted(
    db: Any, events_queue: Queue
) -> None:
    events_queue.send("this is not json")
    events_queue.send(eventbridge("SomethingElse", {"a": 1}))
    listen_once()
    assert sorted(ReceivedEvent.objects.values_list("status", flat=True)) == [
        EventStatus.IGNORED,
        EventStatus.MALFORMED,
    ]
    assert events_queue.count() == 0


def test_the_same_event_id_delivered_again_is_deleted_without_effect(
    db: Any,
    events_queue: Queue,
) -> None:
    body = eventbridge("SomethingElse", {"a": 1}, event_id="same-id")
    events_queue.send(body)
    events_queue.send(body)
    listen_once()
    listen_once()
    assert ReceivedEvent.objects.filter(event_id="same-id").count() == 1
    assert events_queue.count() == 0


def test_a_crash_mid_message_leaves_it_on_the_queue(
    db: Any, events_queue: Queue, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.EVENTS_VISIBILITY_TIMEOUT = 1

    def crash(envelope: events.Envelope) -> dict[str, Any]:
        raise RuntimeError("database went away")

    monkeypatch.setitem(events.HANDLERS, "ReadSetsAdded", crash)
    events_queue.send(eventbridge("ReadSetsAdded", {"instrumentRunId": "RUN1"}, event_id="e-9"))
    listen_once()
    assert not ReceivedEvent.objects.exists()
    assert events_queue.count() == 1

    monkeypatch.undo()
    wait_for(events_queue.visible, timeout=30, message="the message never became visible again")
    listen_once()
    event = ReceivedEvent.objects.get()
    assert (event.event_id, event.status) == ("e-9", EventStatus.PROCESSED)
    assert events_queue.count() == 0


def test_listener_process_handles_messages_and_exits_cleanly_on_sigterm(
    transactional_db: Any, events_queue: Queue, tmp_path: Any
) -> None:
    from urllib.parse import urlsplit, urlunsplit

    from django.db import connection

    url = urlsplit(os.environ["DATABASE_URL"])
    env = os.environ.copy()
    env |= {
        "DATABASE_URL": urlunsplit(url._replace(path=f"/{connection.settings_dict['NAME']}")),
        "AWS_ENDPOINT_URL_SQS": os.environ["TEST_MOTO_URL"],
        "EVENTS_QUEUE_URL": events_queue.url,
        "EVENTS_WAIT_SECONDS": "20",
        "LOG_LEVEL": "INFO",
    }
    log_path = tmp_path / "listener.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "manage.py", "listen_events"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            events_queue.send(eventbridge("SomethingElse", {}, event_id="from-subprocess"))
            wait_for(
                lambda: ReceivedEvent.objects.filter(event_id="from-subprocess").exists(),
                timeout=60,
                message=f"the listener did not record the event:\n{log_path.read_text()}",
            )
            wait_for(lambda: events_queue.count() == 0, timeout=30)
            # Now idle in a 20 s long poll: SIGTERM ends it without waiting for the poll.
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=15) == 0
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    output = log_path.read_text()
    assert "listener stopped" in output
    assert "SIGTERM" in output
