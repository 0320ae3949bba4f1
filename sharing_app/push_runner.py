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
import queue
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol

from django.conf import settings
from django.db import connection, transaction
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
    # Finished futures arrive on a queue (O(1) each, unlike re-waiting on every pending future).
    completed: queue.SimpleQueue[Future[FileOutcome]] = queue.SimpleQueue()
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="push") as pool:
        futures: dict[Future[FileOutcome], FileTask] = {}
        for file in to_transfer:
            future = pool.submit(transfer.transfer, file, stop)
            futures[future] = file
            future.add_done_callback(completed.put)
        pending = len(futures)
        try:
            while True:
                done = _drain(completed, timeout=0.5 if pending else 0)
                pending -= len(done)
                for future in done:
                    outcome = _outcome_of(future, futures[future])
                    (unverified if outcome.status == "" else ready).append(outcome)
                now = time.monotonic()
                due = now - last_record >= RECORD_EVERY_SECONDS or not pending
                if unverified and (due or len(unverified) >= RECORD_EVERY_ROWS):
                    transfer.verify(unverified, files)
                    ready += unverified
                    unverified = []
                if ready and (due or len(ready) >= RECORD_EVERY_ROWS):
                    _record(job_id, token, ready)
                    ready = []
                    last_record = last_heartbeat = now
                if not pending:
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
                        for future in futures:
                            future.cancel()  # only those not started yet
        except BaseException:
            # Files being copied finish (the pool waits for them); the rest stay claimed until
            # reconciliation hands them out again.
            stop.set()
            for future in futures:
                future.cancel()
            raise


def _drain(
    completed: queue.SimpleQueue[Future[FileOutcome]], *, timeout: float
) -> list[Future[FileOutcome]]:
    """Futures finished so far: waits up to `timeout` for the first, then takes what is there."""
    done: list[Future[FileOutcome]] = []
    try:
        done.append(completed.get(timeout=timeout) if timeout else completed.get_nowait())
        while True:
            done.append(completed.get_nowait())
    except queue.Empty:
        pass
    return done


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
    """Write outcomes for rows we still hold, and add them to the job's counters.

    One UPDATE ... FROM (SELECT ... UNION ALL ...) statement for the whole group (Postgres and
    SQLite alike): only rows still IN_PROGRESS under our claim token change, and RETURNING says
    which did, so the counters count each file once.
    """
    if not outcomes:
        return
    now = timezone.now()
    by_id = {outcome.file_id: outcome for outcome in outcomes}
    table = PushFile._meta.db_table
    rows_sql = " UNION ALL ".join(
        ["SELECT %s AS id, %s AS status, %s AS etag, %s AS method, %s AS error, %s AS extra"]
        * len(by_id)
    )
    params: list[Any] = []
    for outcome in by_id.values():
        params += [
            outcome.file_id,
            outcome.status,
            outcome.destination_etag,
            outcome.verification_method,
            outcome.error[:MAX_ERROR_LENGTH],
            outcome.extra_attempts,
        ]
    sql = (
        f"UPDATE {table} SET status = v.status, destination_etag = v.etag, "  # noqa: S608 - no user input
        "verification_method = v.method, error = v.error, "
        f"attempts = {table}.attempts + v.extra, completed_at = %s, heartbeat_at = %s "
        f"FROM ({rows_sql}) AS v "
        f"WHERE {table}.id = v.id AND {table}.claim_token = %s AND {table}.status = %s "
        f"RETURNING {table}.id"
    )
    with transaction.atomic():
        with connection.cursor() as cursor:
            # Parameters in the order their placeholders appear in the statement.
            cursor.execute(sql, [now, now, *params, token, PushFileStatus.IN_PROGRESS])
            updated = [by_id[int(row[0])] for row in cursor.fetchall()]
        counts = Counter(outcome.status for outcome in updated)
        transferred = sum(
            o.transferred_bytes for o in updated if o.status == PushFileStatus.SUCCEEDED
        )
        PushJob.objects.filter(id=job_id).update(
            succeeded_count=F("succeeded_count") + counts[PushFileStatus.SUCCEEDED],
            skipped_count=F("skipped_count") + counts[PushFileStatus.SKIPPED],
            failed_count=F("failed_count") + counts[PushFileStatus.FAILED],
            transferred_bytes=F("transferred_bytes") + transferred,
            last_progress_time=now,
        )
    lost = len(by_id) - len(updated)
    if lost:
        logger.warning("%d outcomes dropped: their rows were handed to another batch", lost)


def backoff_seconds(attempt: int) -> float:
    """Exponential backoff with full jitter for file-level retries."""
    import random

    ceiling = min(settings.PUSH_RETRY_MAX_SECONDS, settings.PUSH_RETRY_BASE_SECONDS * 2**attempt)
    return float(random.uniform(ceiling / 2, ceiling))
