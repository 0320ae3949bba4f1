"""Celery tasks: thin wrappers that load nothing but an id and call one service.

Job state lives on the Package row; the tasks are safe to run twice (the build claims the package
with a conditional update, the other steps check the state they work in). Stuck packages are
found by the one reaper of every kind of job (`datasharing.tasks.jobs_reap`).
"""

from __future__ import annotations

from celery import shared_task

from datasharing.logs import job_context
from packages_app import services
from packages_app.lifecycle import (
    PACKAGE_BUILD_TASK,
    PACKAGE_FINALIZE_TASK,
    PACKAGE_RESTORES_CHECK_TASK,
)


@shared_task(name=PACKAGE_BUILD_TASK, acks_late=True, ignore_result=True)
def package_build_task(package_id: str) -> None:
    with job_context(package_id):
        services.package_build(package_id=package_id)


@shared_task(name=PACKAGE_FINALIZE_TASK, acks_late=True, ignore_result=True)
def package_finalize_task(package_id: str) -> None:
    with job_context(package_id):
        services.package_finalize(package_id=package_id)


@shared_task(name=PACKAGE_RESTORES_CHECK_TASK, acks_late=True, ignore_result=True)
def package_restores_check_task(package_id: str) -> None:
    with job_context(package_id):
        services.package_restores_check(package_id=package_id)


@shared_task(name="packages_app.packages_restores_poll", ignore_result=True)
def packages_restores_poll_task() -> int:
    return services.packages_restores_poll()


@shared_task(name="packages_app.packages_expire_artifacts", ignore_result=True)
def packages_expire_artifacts_task() -> int:
    return services.packages_expire_artifacts()
