"""Hooks let a lower layer tell a higher one that something happened without importing it.

A higher app registers a callback in its `AppConfig.ready()`; the lower app fires the hook after
its transaction commits. Example: packages_app fires "package_finished"; automation_app, which
may push the package to a rule's destination, listens.

Callbacks run in the firing process; an exception in one is logged and does not stop the others.
"""

import logging
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from django.db import transaction

logger = logging.getLogger(__name__)

_callbacks: dict[str, list[Callable[..., None]]] = defaultdict(list)

PACKAGE_FINISHED = "package_finished"  # kwargs: package_id: str, status: str
PUSH_FINISHED = "push_finished"  # kwargs: push_job_id: str, status: str


def register(hook: str, callback: Callable[..., None]) -> None:
    if callback not in _callbacks[hook]:
        _callbacks[hook].append(callback)


def fire_on_commit(hook: str, **kwargs: Any) -> None:
    """Run every callback registered for `hook` once the current transaction commits."""

    def run() -> None:
        for callback in list(_callbacks[hook]):
            try:
                callback(**kwargs)
            except Exception:
                logger.exception(
                    "hook %s callback %s failed", hook, getattr(callback, "__name__", callback)
                )

    transaction.on_commit(run)
