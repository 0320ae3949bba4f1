"""`manage.py listen_events`: long-poll the events queue and apply each message (one service call
per message). A message is deleted once it has been recorded (processed, ignored, malformed or a
duplicate); when applying it fails unexpectedly it stays on the queue and SQS delivers it again
after the visibility timeout. SIGTERM / SIGINT: the current message is finished, messages
received but not started are released to the queue, and the command exits 0.
"""

from __future__ import annotations

import logging
import signal
import time
from types import FrameType
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import close_old_connections, connection

from automation_app.events import sqs
from automation_app.events.services import event_process
from datasharing.logs import job_context

logger = logging.getLogger("automation_app.listener")


class _Interrupted(BaseException):
    """Raised by the signal handler while the listener is only waiting for messages. A
    BaseException, like KeyboardInterrupt, so the SDK's `except Exception` retry loops let it
    through."""


class Command(BaseCommand):
    help = "Long-poll the platform events queue (EVENTS_QUEUE_URL) and apply every event."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--queue-url", default="", help="Overrides EVENTS_QUEUE_URL.")
        parser.add_argument(
            "--once", action="store_true", help="One receive cycle, then exit (tests, cron)."
        )
        parser.add_argument("--wait-seconds", type=int, default=None, help="Long-poll wait.")
        parser.add_argument("--max-messages", type=int, default=None, help="Messages per receive.")

    def handle(self, *args: Any, **options: Any) -> None:
        queue_url = options["queue_url"] or settings.EVENTS_QUEUE_URL
        if not queue_url:
            raise CommandError("No queue: set EVENTS_QUEUE_URL or pass --queue-url.")
        wait = (
            settings.EVENTS_WAIT_SECONDS
            if options["wait_seconds"] is None
            else options["wait_seconds"]
        )
        batch = options["max_messages"] or settings.EVENTS_BATCH_SIZE
        self.stopping = False
        self.waiting = False
        previous = {
            sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGTERM, signal.SIGINT)
        }
        totals: dict[str, int] = {}
        logger.info("listening for events on %s", _queue_name(queue_url))
        try:
            while not self.stopping:
                self._cycle(queue_url, wait=wait, batch=batch, totals=totals)
                if options["once"]:
                    break
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        logger.info("listener stopped; messages handled: %s", totals or "none")

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        logger.info("signal %s: stopping after the current message", signal.Signals(signum).name)
        self.stopping = True
        if self.waiting:
            raise _Interrupted

    def _cycle(self, queue_url: str, *, wait: int, batch: int, totals: dict[str, int]) -> None:
        self.waiting = True
        try:
            if self.stopping:
                return
            messages = sqs.sqs_receive(
                queue_url=queue_url,
                max_messages=batch,
                wait_seconds=wait,
                visibility_timeout=settings.EVENTS_VISIBILITY_TIMEOUT,
            )
        except _Interrupted:
            return
        except Exception:
            logger.exception("could not receive from the events queue; retrying shortly")
            self._pause(5)
            return
        finally:
            self.waiting = False
        for index, message in enumerate(messages):
            if self.stopping:
                self._release(queue_url, [m.receipt_handle for m in messages[index:]])
                return
            status = self._handle(queue_url, message)
            totals[status] = totals.get(status, 0) + 1

    def _handle(self, queue_url: str, message: sqs.QueueMessage) -> str:
        if not connection.in_atomic_block:
            # Drop a connection the database closed or that outlived CONN_MAX_AGE (a listener
            # lives for weeks); never inside a caller's transaction (tests).
            close_old_connections()
        try:
            with job_context(message.message_id):
                result = event_process(message_id=message.message_id, body=message.body)
        except Exception:
            logger.exception(
                "message %s (delivery %d) failed; left on the queue for redelivery",
                message.message_id,
                message.receive_count,
            )
            return "FAILED"
        logger.info(
            "event %s (%s): %s%s",
            result.event_id,
            result.detail_type or "?",
            result.status,
            f": {result.error}" if result.error else "",
        )
        try:
            sqs.sqs_delete(queue_url=queue_url, receipt_handle=message.receipt_handle)
        except Exception:
            # Recorded already: a redelivery is recognised as a duplicate and deleted then.
            logger.exception("could not delete message %s", message.message_id)
        return result.status

    def _release(self, queue_url: str, receipt_handles: list[str]) -> None:
        try:
            sqs.sqs_release(queue_url=queue_url, receipt_handles=receipt_handles)
        except Exception:
            logger.exception("could not release %d messages", len(receipt_handles))

    def _pause(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while not self.stopping and time.monotonic() < deadline:
            time.sleep(0.2)


def _queue_name(queue_url: str) -> str:
    """The queue's name for logs (never the account id in full URLs' paths)."""
    return queue_url.rstrip("/").rsplit("/", 1)[-1]
