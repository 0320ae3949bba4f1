"""State changes are published to EventBridge (moto server) after commit, read back from an SQS
queue that a rule on the bus targets."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from packages_app import services
from packages_app.models import Package
from tests.packages_app.conftest import SUBJECT_1_NORMAL, EventCapture

pytestmark = pytest.mark.django_db


def test_each_state_change_is_published(
    demo_catalog: Path, event_capture: EventCapture, build_now: Callable[..., Package]
) -> None:
    package = build_now(name="announced", libraryIdList=[SUBJECT_1_NORMAL])
    events = event_capture.received()
    assert [e["detail"]["status"] for e in events] == ["PENDING", "RUNNING", "SUCCEEDED"]
    for event in events:
        assert event["detail-type"] == "DataPackagingJobStateChange"
        assert event["source"] == "orcabus.datasharing"
        assert event["detail"]["id"] == package.id
        assert event["detail"]["packageName"] == "announced"
    last = events[-1]["detail"]
    assert last["fileCount"] == 4 and last["completionTime"] and last["errorMessage"] is None


def test_nothing_is_published_before_commit(
    demo_catalog: Path, event_capture: EventCapture, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.package_create(
            package_name="rolled-back",
            package_request={"libraryIdList": [SUBJECT_1_NORMAL], "dataTypeList": ["fastq"]},
            user=None,
        )
    assert callbacks  # the event and the enqueue wait for the commit that never comes
    assert event_capture.received() == []


def test_failures_are_published_with_their_message(
    demo_catalog: Path, event_capture: EventCapture, build_now: Callable[..., Package]
) -> None:
    package = build_now(
        libraryIdList=[SUBJECT_1_NORMAL],
        dataTypeList=["secondaryAnalysis"],
        secondaryAnalysisTypeList=["wts"],
    )
    events = event_capture.received()
    assert [e["detail"]["status"] for e in events] == ["PENDING", "RUNNING", "FAILED"]
    assert events[-1]["detail"]["errorMessage"] == package.error_message
    assert "matches no files" in package.error_message
