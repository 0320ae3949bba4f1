"""Notifications about automatic shares (Slack, email).

Interface used by `automation_app.services`: `notify_enqueue(share_id=..., kind=...)` is called
inside the transaction that changed the share and must send only after commit.
"""

from __future__ import annotations


def notify_enqueue(*, share_id: str, kind: str) -> None:
    """Queue the messages of `kind` about a share, after the current transaction commits."""
    # Placeholder until the notifications work lands on this branch: sends nothing.
    return None
