"""Celery beat tasks of automatic sharing (thin: one service call each).

Kept apart from any `tasks.py` the notifications work adds; discovered by name in
`datasharing/celery.py`.
"""

from __future__ import annotations

from celery import shared_task

from automation_app.shares import auto_shares_reconcile


@shared_task(name="automation_app.auto_shares_reconcile", ignore_result=True)
def auto_shares_reconcile_task() -> dict[str, int]:
    return auto_shares_reconcile()
