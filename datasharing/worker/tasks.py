"""The worker canary (see datasharing/worker/heartbeat.py)."""

from __future__ import annotations

from celery import shared_task

CANARY_TASK = "datasharing.worker_canary"


# Acknowledged on receipt: a lost canary is replaced by the next one, never worth redelivering.
@shared_task(name=CANARY_TASK, ignore_result=True, acks_late=False)
def worker_canary() -> None:
    """Does nothing: that a pool process started it is the proof the worker's main process counts
    (Celery counts a task as accepted in the main process once the pool has started it)."""
