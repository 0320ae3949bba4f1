"""Periodic tasks are declared in code and stored in the database (django-celery-beat).

Apps declare their schedules in `AppConfig.ready()` with `register_periodic(...)`; after every
`migrate`, `sync_periodic_tasks()` writes them into django-celery-beat's tables (so beat's
DatabaseScheduler runs them and admins can see, pause or retime them). Entries we own are named
`datasharing: <name>`; ones no longer declared are disabled, never deleted.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

PREFIX = "datasharing: "


@dataclass(frozen=True)
class PeriodicTaskSpec:
    name: str
    task: str
    every_seconds: int
    kwargs: dict[str, Any] = field(default_factory=dict)
    description: str = ""


_registry: dict[str, PeriodicTaskSpec] = {}


def register_periodic(spec: PeriodicTaskSpec) -> None:
    _registry[spec.name] = spec


def registered_periodic_tasks() -> list[PeriodicTaskSpec]:
    return sorted(_registry.values(), key=lambda spec: spec.name)


def sync_periodic_tasks(**_: Any) -> None:
    """Create or update our periodic tasks; keep an admin's `enabled` choice and interval edits
    only for tasks whose declared interval is unchanged."""
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    declared = {PREFIX + spec.name: spec for spec in registered_periodic_tasks()}
    for name, spec in declared.items():
        interval, _ = IntervalSchedule.objects.get_or_create(
            every=spec.every_seconds, period=IntervalSchedule.SECONDS
        )
        task, created = PeriodicTask.objects.get_or_create(
            name=name,
            defaults={
                "task": spec.task,
                "interval": interval,
                "kwargs": json.dumps(spec.kwargs),
                "description": spec.description,
            },
        )
        if not created:
            task.task = spec.task
            task.kwargs = json.dumps(spec.kwargs)
            task.description = spec.description
            task.interval = interval
            task.save()
    PeriodicTask.objects.filter(name__startswith=PREFIX).exclude(name__in=list(declared)).update(
        enabled=False
    )
