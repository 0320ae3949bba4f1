"""Celery tasks of the project layer: the one reaper of stuck jobs of every kind."""

from __future__ import annotations

from celery import shared_task

from datasharing import jobs

JOBS_REAP_TASK = "datasharing.jobs_reap"


@shared_task(name=JOBS_REAP_TASK, acks_late=True, max_retries=0, ignore_result=True)
def jobs_reap() -> dict[str, dict[str, int]]:
    return jobs.jobs_reap()
