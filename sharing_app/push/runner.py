"""A copier: claims ledger rows of a push in small batches, transfers them on a bounded thread
pool, verifies them and records each outcome, until nothing is left to claim.

Why it is safe when workers die or messages are delivered twice:
- Rows are claimed with one conditional UPDATE (`status=PENDING -> IN_PROGRESS`, the copier's
  claim token); a redelivered or duplicated copier message finds nothing left to claim.
- Outcomes are written only for rows still IN_PROGRESS under our token, so a worker that was
  presumed dead cannot overwrite the work of the one that replaced it.
- While working, the copier refreshes its rows' heartbeat; reconciliation hands rows with a
  stale heartbeat back to PENDING for another copier (see services.push_reconcile).

Only the calling thread touches the database; transfer threads do S3/ICAv2 work and return values.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Protocol

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from datasharing.s3 import CopyResult
from sharing_app.push.models import PushFile, PushFileStatus, PushJob, PushStatus

logger = logging.getLogger(__name__)

# Outcomes are written to the database in groups: at most this many rows or this many seconds.
RECORD_EVERY_ROWS = 50
# A copier claims at least this many rows at a time (and twice its thread count).
CLAIM_MIN = 16
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


def run_copier(
    *,
    job_id: str,
    destination_key: Callable[[PushJob, str], str],
    make_transfer: Callable[[PushJob], Transfer],
    concurrency: int,
) -> tuple[int, bool]:
    """Copy files of the job until none is left to claim (or the time slice ends).

    Claims PENDING rows a few at a time (lowest ids first, so a claim's keys form one listing
    range) whenever the thread pool runs short of work, so threads never idle between batches.
    Returns (rows claimed, whether PENDING rows may remain because the time slice ended).
    """
    job = PushJob.objects.get(id=job_id)
    if job.status != PushStatus.RUNNING:
        return 0, False
    token = uuid.uuid4().hex
    concurrency = max(1, concurrency)
    chunk = max(CLAIM_MIN, 2 * concurrency)
    deadline = time.monotonic() + settings.PUSH_COPIER_SLICE_SECONDS
    transfer: Transfer | None = None
    files: dict[int, FileTask] = {}
    ready: list[FileOutcome] = []
    unverified: list[FileOutcome] = []
    stop = threading.Event()
    claiming = True
    sliced = False
    claimed_total = 0
    last_record = last_heartbeat = last_status_check = time.monotonic()
    # Finished futures arrive on a queue (O(1) each, unlike re-waiting on every pending future).
    completed: queue.SimpleQueue[Future[FileOutcome]] = queue.SimpleQueue()
    futures: dict[Future[FileOutcome], FileTask] = {}
    in_flight = 0
    pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="push")
    try:
        while True:
            topped_up = False
            if claiming and not stop.is_set() and in_flight < chunk:
                # Every copier takes at least one claim, so a successor always makes progress.
                if claimed_total and time.monotonic() >= deadline:
                    claiming, sliced = False, True
                else:
                    claimed = _claim(job_id, token, chunk, job, destination_key)
                    if not claimed:
                        claiming = False
                    else:
                        claimed_total += len(claimed)
                        files.update({file.id: file for file in claimed})
                        if transfer is None:
                            try:
                                transfer = make_transfer(job)
                            except Exception as exc:
                                logger.exception("Could not prepare the transfer")
                                message = f"Could not start the transfer: {exc}"
                                _fail_all(job_id, token, claimed, message)
                                return claimed_total, False
                        decided = _prepare(job_id, token, transfer, claimed)
                        ready += decided
                        skip = {outcome.file_id for outcome in decided}
                        for file in claimed:
                            if file.id not in skip:
                                future = pool.submit(transfer.transfer, file, stop)
                                futures[future] = file
                                future.add_done_callback(completed.put)
                                in_flight += 1
                        topped_up = True
            # Right after a claim, only collect what is done: the pool may take more work.
            done = _drain(completed, timeout=0.5 if in_flight and not topped_up else 0)
            in_flight -= len(done)
            for future in done:
                outcome = _outcome_of(future, futures.pop(future))
                (unverified if outcome.status == "" else ready).append(outcome)
            finished = not in_flight and not (claiming and not stop.is_set())
            now = time.monotonic()
            due = now - last_record >= RECORD_EVERY_SECONDS or finished
            if (
                unverified
                and transfer is not None
                and (due or len(unverified) >= RECORD_EVERY_ROWS)
            ):
                transfer.verify(unverified, files)
                ready += unverified
                unverified = []
            if ready and (due or len(ready) >= RECORD_EVERY_ROWS):
                _record(job_id, token, ready)
                for outcome in ready:
                    files.pop(outcome.file_id, None)  # keep memory flat in the file count
                ready = []
                last_record = last_heartbeat = now
            if finished:
                break
            if now - last_heartbeat >= settings.PUSH_HEARTBEAT_SECONDS:
                _heartbeat(job_id, token)
                last_heartbeat = now
            if now - last_status_check >= STATUS_CHECK_SECONDS and not stop.is_set():
                last_status_check = now
                status = PushJob.objects.filter(id=job_id).values_list("status", flat=True)
                if status.first() != PushStatus.RUNNING:
                    logger.info("Push is no longer running; stopping this copier")
                    stop.set()
                    for future in list(futures):
                        future.cancel()  # only those not started yet
    except BaseException:
        # Files being copied finish; the rest stay claimed until reconciliation hands them out
        # again.
        stop.set()
        for future in list(futures):
            future.cancel()
        raise
    finally:
        pool.shutdown(wait=True)
        if transfer is not None:
            transfer.close()
    return claimed_total, sliced


def _claim(
    job_id: str,
    token: str,
    limit: int,
    job: PushJob,
    destination_key: Callable[[PushJob, str], str],
) -> list[FileTask]:
    """Take up to `limit` PENDING rows of the job (lowest ids first) in one statement.

    On Postgres concurrent copiers skip rows another is claiming (FOR UPDATE SKIP LOCKED); the
    outer `status = PENDING` re-check means a row is never claimed twice on any database."""
    table = PushFile._meta.db_table
    lock = " FOR UPDATE SKIP LOCKED" if connection.vendor == "postgresql" else ""
    now = timezone.now()
    # The candidates are picked once, in a materialized CTE: as an `IN (subquery)` Postgres
    # may run the LIMITed subquery again per row and claim far more than `limit` rows.
    sql = (
        f"WITH picked AS MATERIALIZED (SELECT id FROM {table} WHERE job_id = %s "  # noqa: S608 - no user input
        f"AND status = %s ORDER BY id LIMIT %s{lock}) "
        f"UPDATE {table} SET status = %s, claim_token = %s, attempts = attempts + 1, "
        "started_at = %s, heartbeat_at = %s, error = '' "
        f"FROM picked WHERE {table}.id = picked.id AND {table}.status = %s "
        f"RETURNING {table}.id, relative_path, source_bucket, source_key, size, source_etag, "
        "source_md5, attempts"
    )
    pending = PushFileStatus.PENDING
    # One statement: atomic by itself (no BEGIN/COMMIT round trips around it).
    with connection.cursor() as cursor:
        cursor.execute(
            sql, [job_id, pending, limit, PushFileStatus.IN_PROGRESS, token, now, now, pending]
        )
        rows = cursor.fetchall()
    return sorted(
        (
            FileTask(
                id=int(row[0]),
                relative_path=row[1],
                source_bucket=row[2],
                source_key=row[3],
                size=int(row[4]),
                source_etag=row[5],
                source_md5=row[6],
                destination_key=destination_key(job, row[1]),
                attempts=int(row[7]),
            )
            for row in rows
        ),
        key=lambda file: file.id,
    )


def _prepare(
    job_id: str, token: str, transfer: Transfer, files: list[FileTask]
) -> list[FileOutcome]:
    """Outcomes decided before any transfer; a destination we cannot check fails these files."""
    try:
        return transfer.prepare(files)
    except Exception as exc:
        logger.exception("Could not prepare %d files", len(files))
        return [
            FileOutcome(
                f.id,
                PushFileStatus.FAILED,
                error=f"Could not check the destination: {exc}"[:MAX_ERROR_LENGTH],
            )
            for f in files
        ]


def _fail_all(job_id: str, token: str, files: list[FileTask], message: str) -> None:
    _record(
        job_id,
        token,
        [FileOutcome(f.id, PushFileStatus.FAILED, error=message[:MAX_ERROR_LENGTH]) for f in files],
    )


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

    One UPDATE ... FROM for the whole group, its rows passed as one JSON parameter (so the
    statement's text is the same every time and the driver does not re-parse hundreds of
    placeholders): only rows still IN_PROGRESS under our claim token change, and RETURNING says
    which did, so the counters count each file once.
    """
    if not outcomes:
        return
    now = timezone.now()
    by_id = {outcome.file_id: outcome for outcome in outcomes}
    rows = json.dumps(
        [
            {
                "id": outcome.file_id,
                "status": outcome.status,
                "etag": outcome.destination_etag,
                "method": outcome.verification_method,
                "error": outcome.error[:MAX_ERROR_LENGTH],
                "extra": outcome.extra_attempts,
            }
            for outcome in by_id.values()
        ]
    )
    table = PushFile._meta.db_table
    sql = (
        f"UPDATE {table} SET status = v.status, destination_etag = v.etag, "  # noqa: S608 - no user input
        "verification_method = v.method, error = v.error, "
        f"attempts = {table}.attempts + v.extra, completed_at = %s, heartbeat_at = %s "
        f"FROM ({_JSON_ROWS[connection.vendor]}) AS v "
        f"WHERE {table}.id = v.id AND {table}.claim_token = %s AND {table}.status = %s "
        f"RETURNING {table}.id"
    )
    with transaction.atomic(), connection.cursor() as cursor:
        # Parameters in the order their placeholders appear in the statement.
        cursor.execute(sql, [now, now, rows, token, PushFileStatus.IN_PROGRESS])
        updated = [by_id[int(row[0])] for row in cursor.fetchall()]
        counts = Counter(outcome.status for outcome in updated)
        transferred = sum(
            o.transferred_bytes for o in updated if o.status == PushFileStatus.SUCCEEDED
        )
        jobs = PushJob._meta.db_table
        cursor.execute(
            f"UPDATE {jobs} SET succeeded_count = succeeded_count + %s, "  # noqa: S608
            "skipped_count = skipped_count + %s, failed_count = failed_count + %s, "
            "transferred_bytes = transferred_bytes + %s, last_progress_time = %s "
            "WHERE id = %s",
            [
                counts[PushFileStatus.SUCCEEDED],
                counts[PushFileStatus.SKIPPED],
                counts[PushFileStatus.FAILED],
                transferred,
                now,
                job_id,
            ],
        )
    lost = len(by_id) - len(updated)
    if lost:
        logger.warning("%d outcomes dropped: their rows were handed to another copier", lost)


# The rows of a JSON array of outcomes (id, status, etag, method, error, extra) as a table.
_JSON_ROWS = {
    "postgresql": (
        "SELECT * FROM json_to_recordset(%s::json) AS r(id bigint, status text, etag text, "
        "method text, error text, extra integer)"
    ),
    "sqlite": (
        "SELECT json_extract(value, '$.id') AS id, json_extract(value, '$.status') AS status, "
        "json_extract(value, '$.etag') AS etag, json_extract(value, '$.method') AS method, "
        "json_extract(value, '$.error') AS error, json_extract(value, '$.extra') AS extra "
        "FROM json_each(%s)"
    ),
}


def backoff_seconds(attempt: int) -> float:
    """Exponential backoff with full jitter for file-level retries."""
    import random

    ceiling = min(settings.PUSH_RETRY_MAX_SECONDS, settings.PUSH_RETRY_BASE_SECONDS * 2**attempt)
    return float(random.uniform(ceiling / 2, ceiling))
