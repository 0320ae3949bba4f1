"""Two decisions at the same moment, on Postgres through a live server: one push, never two."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from automation_app.models import AutoShare, AutoShareStatus, DecisionChannel
from sharing_app.push.models import PushJob
from tests.automation_app.conftest import APPROVER, block_actions_payload, slack_request
from tests.conftest import client_for

pytestmark = pytest.mark.usefixtures("curators_may_approve")


def at_once(*calls: Callable[[], httpx.Response]) -> list[httpx.Response]:
    """Run the calls in threads released together; their responses in order."""
    barrier = threading.Barrier(len(calls))
    responses: list[Any] = [None] * len(calls)

    def run(index: int) -> None:
        barrier.wait()
        responses[index] = calls[index]()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return responses


def test_a_double_click_on_push_starts_one_push(live_server, share_factory, fake_slack) -> None:
    setup = share_factory()
    url = f"{live_server.url}/api/v1/slack/actions"

    def click() -> httpx.Response:
        body, headers = slack_request(block_actions_payload(share_id=setup.share.id))
        return httpx.post(url, content=body, headers=headers, timeout=60)

    responses = at_once(click, click, click)

    assert [r.status_code for r in responses] == [200, 200, 200]
    texts = sorted(r.json()["text"] for r in responses)
    assert sum(text.startswith("Approved: push ") for text in texts) == 1
    # The losers see the share as the winner left it: pushing, or already done (eager push).
    assert sum(bool(re.search(r"is (PUSHING|SUCCEEDED) \(decided", t)) for t in texts) == 2
    share = AutoShare.objects.get(id=setup.share.id)
    assert share.decided_by_slack_user == APPROVER
    assert share.status in (AutoShareStatus.PUSHING, AutoShareStatus.SUCCEEDED)
    assert PushJob.objects.count() == 1
    assert share.push_job_id == PushJob.objects.get().id


def test_approve_and_reject_at_once_one_wins(
    live_server, share_factory, fake_slack, curator, admin_user
) -> None:
    setup = share_factory()
    base = f"{live_server.url}/api/v1/auto-share/shares/{setup.share.id}"

    def api_call(user: Any, action: str) -> Callable[[], httpx.Response]:
        token = client_for(user)._credentials["HTTP_AUTHORIZATION"]
        return lambda: httpx.post(
            f"{base}:{action}", json={}, headers={"Authorization": token}, timeout=60
        )

    responses = at_once(
        api_call(curator, "approve"),
        api_call(admin_user, "approve"),
        api_call(admin_user, "reject"),
    )

    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200, 409, 409], [r.text for r in responses]
    winner = next(r for r in responses if r.status_code == 200).json()
    share = AutoShare.objects.get(id=setup.share.id)
    assert share.decided_via == DecisionChannel.API
    if winner["status"] == AutoShareStatus.REJECTED:
        assert share.status == AutoShareStatus.REJECTED
        assert PushJob.objects.count() == 0
    else:
        # Approved: one push, which may already have finished (tasks run eagerly here).
        assert winner["status"] == AutoShareStatus.PUSHING
        assert share.status in (AutoShareStatus.PUSHING, AutoShareStatus.SUCCEEDED)
        assert PushJob.objects.count() == 1
