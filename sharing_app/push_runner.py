"""Running one batch of a push: claim its ledger rows, transfer them on a bounded thread pool,
verify, and record each outcome.

Why it is safe when workers die or messages are delivered twice:
- Rows are claimed with one conditional UPDATE (`status=PENDING -> IN_PROGRESS`, a fresh claim
  token); a redelivered or duplicated batch message finds nothing left to claim.
- Outcomes are written only for rows still IN_PROGRESS under our token, so a worker that was
  presumed dead cannot overwrite the work of the one that replaced it.
- While working, the batch refreshes its rows' heartbeat; reconciliation hands rows with a stale
  heartbeat to a new batch (see services.push_reconcile).

Only the calling thread touches the database; transfer threads do S3/ICAv2 work and return values.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Protocol

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from datasharing.s3 import CopyResult
from sharing_app.models import PushFile, PushFileStatus, PushJob, PushStatus

logger = logging.getLogger(__name__)

# Outcomes are written to the database in groups: at most this many rows or this many seconds.
RECORD_EVERY_ROWS = 50
RECORD_EVERY_SECONDS = 2.0
STATUS_CHECK_SECONDS = 1.0
MAX_ERROR_LENGTH = 2000


@dataclass(frozen=True)
class FileTask:
    """What a transfer thread needs to know about one ledger row (no ORM objects in threads)."""

    id: int
    relative_path: str
    source_bucket: str
    source_key: str
    size: int
    source_etag: str
    source_md5: str
    destination_key: str
    attempts: int

    @property
    def known_md5(self) -> str:
        """The source's MD5 when known: recorded, or a single-part ETag (which is the MD5)."""
        from datasharing.s3 import is_md5_etag

        if self.source_md5:
            return self.source_md5
        return self.source_etag if is_md5_etag(self.source_etag) else ""


@dataclass
class FileOutcome:
    file_id: int
    # SUCCEEDED / SKIPPED / FAILED / ABORTED, or "" while the copy still awaits verification.
    status: str
    destination_etag: str = ""
    verification_method: str = ""
    error: str = ""
    extra_attempts: int = 0
    transferred_bytes: int = 0
    copy_result: CopyResult | None = None


class Transfer(Protocol):
    concurrency: int

    def prepare(self, files: list[FileTask]) -> list[FileOutcome]:
        """Main thread, before any transfer: outcomes decided up front (identical files)."""
        ...

    def transfer(self, file: FileTask, stop: threading.Event) -> FileOutcome:
        """Transfer thread: copy or upload one file (retrying what can be retried)."""
        ...

    def verify(self, outcomes: list[FileOutcome], files: dict[int, FileTask]) -> None:
        """Main thread: settle outcomes whose status is "" (copied, not yet verified)."""
        ...

    def close(self) -> None: ...


def not_started(file_id: int, reason: str) -> FileOutcome:
    return FileOutcome(file_id, PushFileStatus.ABORTED, error=f"Not copied: {reason}")


def run_batch(
    *,
    job_id: str,
    first_file_id: int,
    last_file_id: int,
    destination_key: Callable[[PushJob, PushFile], str],
    make_transfer: Callable[[PushJob], Transfer],
) -> int:
    """Claim the batch's PENDING rows and push them; returns how many rows this call claimed."""
    token = uuid.uuid4().hex
    now = timezone.now()
    claimed = PushFile.objects.filter(
        job_id=job_id,
        id__gte=first_file_id,
        id__lte=last_file_id,
        status=PushFileStatus.PENDING,
    ).update(
        status=PushFileStatus.IN_PROGRESS,
        claim_token=token,
        attempts=F("attempts") + 1,
        started_at=now,
        heartbeat_at=now,
        error="",
    )
    if not claimed:
        return 0
    job = PushJob.objects.get(id=job_id)
    rows = list(PushFile.objects.filter(claim_token=token).order_by("id"))
    if job.status != PushStatus.RUNNING:
        _record(job_id, token, [not_started(r.id, f"the push is {job.status}") for r in rows])
        return claimed
    files = {
        row.id: FileTask(
            id=row.id,
            relative_path=row.relative_path,
            source_bucket=row.source_bucket,
            source_key=row.source_key,
            size=row.size,
            source_etag=row.source_etag,
            source_md5=row.source_md5,
            destination_key=destination_key(job, row),
            attempts=row.attempts,
        )
        for row in rows
    }
    try:
        transfer = make_transfer(job)
    except Exception as exc:
        logger.exception("Could not prepare the transfer of %d files", len(files))
        message = f"Could not start the transfer: {exc}"[:MAX_ERROR_LENGTH]
        _record(
            job_id,
            token,
            [FileOutcome(fid, PushFileStatus.FAILED, error=message) for fid in files],
        )
        return claimed
    try:
        _run(job_id, token, files, transfer)
    finally:
        transfer.close()
    return claimed


def _run(job_id: str, token: str, files: dict[int, FileTask], transfer: Transfer) -> None:
    try:
        ready: list[FileOutcome] = transfer.prepare(list(files.values()))
    except Exception as exc:
        logger.exception("Could not prepare a batch of %d files", len(files))
        message = f"Could not check the destination: {exc}"[:MAX_ERROR_LENGTH]
        _record(
            job_id, token, [FileOutcome(fid, PushFileStatus.FAILED, error=message) for fid in files]
        )
        return
    decided = {outcome.file_id for outcome in ready}
    to_transfer = [file for fid, file in files.items() if fid not in decided]
    unverified: list[FileOutcome] = []
    stop = threading.Event()
    last_record = last_heartbeat = last_status_check = time.monotonic()
    workers = max(1, min(transfer.concurrency, len(to_transfer)))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="push") as pool:
        futures: dict[Future[FileOutcome], FileTask] = {
            pool.submit(transfer.transfer, file, stop): file for file in to_transfer
        }
        remaining = set(futures)
        try:
            while True:
                done, remaining = wait(remaining, timeout=0.5, return_when=FIRST_COMPLETED)
                for future in done:
                    outcome = _outcome_of(future, futures[future])
                    (unverified if outcome.status == "" else ready).append(outcome)
                now = time.monotonic()
                due = now - last_record >= RECORD_EVERY_SECONDS or not remaining
                if unverified and (due or len(unverified) >= RECORD_EVERY_ROWS):
                    transfer.verify(unverified, files)
                    ready += unverified
                    unverified = []
                if ready and (due or len(ready) >= RECORD_EVERY_ROWS):
                    _record(job_id, token, ready)
                    ready = []
                    last_record = last_heartbeat = now
                if not remaining:
                    break
                if now - last_heartbeat >= settings.PUSH_HEARTBEAT_SECONDS:
                    _heartbeat(job_id, token)
                    last_heartbeat = now
                if now - last_status_check >= STATUS_CHECK_SECONDS and not stop.is_set():
                    last_status_check = now
                    status = PushJob.objects.filter(id=job_id).values_list("status", flat=True)
                    if status.first() != PushStatus.RUNNING:
                        logger.info("Push is no longer running; stopping this batch")
                        stop.set()
                        for future in remaining:
                            future.cancel()
        except BaseException:
            # Files being copied finish (the pool waits for them); the rest stay claimed until
            # reconciliation hands them out again.
            stop.set()
            for future in remaining:
                future.cancel()
            raise


def _outcome_of(future: Future[FileOutcome], file: FileTask) -> FileOutcome:
    if future.cancelled():
        return not_started(file.id, "the push stopped before this file was copied")
    try:
        return future.result()
    except Exception as exc:  # a bug, not an S3 failure (those are outcomes already)
        logger.exception("Unexpected error pushing %s", file.relative_path)
        return FileOutcome(
            file.id,
            PushFileStatus.FAILED,
            error=f"Unexpected error: {type(exc).__name__}: {exc}"[:MAX_ERROR_LENGTH],
        )


def _heartbeat(job_id: str, token: str) -> None:
    now = timezone.now()
    PushFile.objects.filter(claim_token=token, status=PushFileStatus.IN_PROGRESS).update(
        heartbeat_at=now
    )
    PushJob.objects.filter(id=job_id).update(last_progress_time=now)


def _record(job_id: str, token: str, outcomes: list[FileOutcome]) -> None:
    """Write outcomes for rows we still hold, and add them to the job's counters."""
    now = timezone.now()
    by_id = {outcome.file_id: outcome for outcome in outcomes}
    with transaction.atomic():
        rows = (
            PushFile.objects.select_for_update()
            .filter(id__in=list(by_id), claim_token=token, status=PushFileStatus.IN_PROGRESS)
            .in_bulk()
        )
        counts: Counter[str] = Counter()
        transferred = 0
        for file_id, row in rows.items():
            outcome = by_id[file_id]
            row.status = outcome.status
            row.destination_etag = outcome.destination_etag
            row.verification_method = outcome.verification_method
            row.error = outcome.error[:MAX_ERROR_LENGTH]
            row.attempts = row.attempts + outcome.extra_attempts
            row.completed_at = now
            row.heartbeat_at = now
            counts[outcome.status] += 1
            if outcome.status == PushFileStatus.SUCCEEDED:
                transferred += outcome.transferred_bytes
        PushFile.objects.bulk_update(
            list(rows.values()),
            [
                "status",
                "destination_etag",
                "verification_method",
                "error",
                "attempts",
                "completed_at",
                "heartbeat_at",
            ],
        )
        PushJob.objects.filter(id=job_id).update(
            succeeded_count=F("succeeded_count") + counts[PushFileStatus.SUCCEEDED],
            skipped_count=F("skipped_count") + counts[PushFileStatus.SKIPPED],
            failed_count=F("failed_count") + counts[PushFileStatus.FAILED],
            transferred_bytes=F("transferred_bytes") + transferred,
            last_progress_time=now,
        )
    lost = len(by_id) - len(rows)
    if lost:
        logger.warning("%d outcomes dropped: their rows were handed to another batch", lost)


def backoff_seconds(attempt: int) -> float:
    """Exponential backoff with full jitter for file-level retries."""
    import random

    ceiling = min(settings.PUSH_RETRY_MAX_SECONDS, settings.PUSH_RETRY_BASE_SECONDS * 2**attempt)
    return float(random.uniform(ceiling / 2, ceiling))
