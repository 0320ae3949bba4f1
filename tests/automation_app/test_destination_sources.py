"""An automatic share whose destination became a catalogue source fails with the reason instead
of pushing into it."""

from __future__ import annotations

import pytest

from automation_app.models import AutoShareStatus
from automation_app.services import auto_share_start_push
from catalog_app.sources.models import AllowedSource
from sharing_app.push.models import PushJob

pytestmark = pytest.mark.django_db


def test_an_automatic_share_into_a_place_that_became_a_source_fails_with_the_reason(
    share_factory,  # type: ignore[no-untyped-def]
) -> None:
    setup = share_factory()
    AllowedSource.objects.create(prefix=setup.destination)
    share = auto_share_start_push(share_id=setup.share.id)
    assert share.status == AutoShareStatus.FAILED
    assert "overlaps" in share.error
    assert not PushJob.objects.exists()
