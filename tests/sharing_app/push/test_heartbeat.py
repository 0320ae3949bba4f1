"""Heartbeats: a copy that takes longer than PUSH_STALE_AFTER_SECONDS stays with its copier while
the reaper runs, however many other files finish meanwhile."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from sharing_app.destinations.destination import parse_destination
from sharing_app.push import runner, services
from sharing_app.push.models import PushFile, PushStatus
from tests.s3_fault_proxy import Rule, is_copy

MIB = 1024**2


def is_part_copy(method: str, path: str, headers: dict[str, str]) -> bool:
    """UploadPartCopy (one part of a multipart copy)."""
    return is_copy(method, path, headers) and "partNumber=" in path


class Reaper:
    """Runs the push reaper in a loop on its own thread (and database connection), as beat would
    run it, only much more often."""

    def __init__(self) -> None:
        self.results: list[dict[str, int]] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        from django.db import connection

        try:
            while not self.stop.wait(0.2):
                self.results.append(services.push_reconcile())
        finally:
            connection.close()

    def __enter__(self) -> Reaper:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        self.thread.join(timeout=30)


@pytest.mark.django_db(transaction=True)
def test_a_multipart_copy_longer_than_the_stale_limit_keeps_its_file(
    source_files: Any,
    package_factory: Any,
    dest_factory: Any,
    allow_destination: Any,
    curator: Any,
    s3_proxy: Any,
    settings: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings.PUSH_MULTIPART_THRESHOLD = 6 * MIB
    settings.PUSH_MULTIPART_PART_SIZE = 5 * MIB
    settings.PUSH_COPY_CONCURRENCY = 2
    settings.PUSH_HEARTBEAT_SECONDS = 0.3
    settings.PUSH_STALE_AFTER_SECONDS = 2
    # Outcomes of the small files are recorded far more often than heartbeats are due (as in
    # production: every 2 s against every 10 s); recording must not stand in for a heartbeat.
    monkeypatch.setattr(runner, "RECORD_EVERY_SECONDS", 0.1)
    # The big file's parts take twice the stale limit; small files keep finishing meanwhile.
    s3_proxy.add(Rule(is_part_copy, delay=4.0))
    s3_proxy.add(Rule(is_copy, delay=0.1))
    files = source_files(
        ("big.bam", 12 * MIB + 5), *[(f"small/{n:02d}.txt", 10 + n) for n in range(40)]
    )
    package = package_factory(files)
    destination = allow_destination(dest_factory().uri)

    with Reaper() as reaper:
        # Outside a transaction the start runs at once, and eagerly the whole push runs here.
        job = services.push_create(
            package=package, destination=parse_destination(destination), user=curator
        )

    job.refresh_from_db()
    assert job.status == PushStatus.SUCCEEDED, job.error_message
    assert reaper.results, "the reaper never ran"
    # No file was handed to another copier, and the job was never resumed: all claimed once.
    assert not any(result for result in reaper.results), reaper.results
    assert job.resume_count == 0
    attempts = dict(PushFile.objects.filter(job=job).values_list("relative_path", "attempts"))
    assert attempts["big.bam"] == 1
    assert set(attempts.values()) == {1}
    parts = [p for m, p in s3_proxy.requests if m == "PUT" and "partNumber=" in p]
    assert len(parts) == 3  # one multipart copy, never started again
