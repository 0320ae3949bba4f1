"""A copier: claims ledger rows of a push in small batches, transfers them on a bounded thread
pool, verifies them and records each outcome, until nothing is left to claim.

Why it is safe when workers die or messages are delivered twice:
- Rows are claimed with one conditional UPDATE (`status=PENDING -> IN_PROGRESS`, the copier's
  claim token); a redelivered or duplicated copier message finds nothing left to claim.
- Outcomes are written only for rows still IN_PROGRESS under our token, so a worker that was
  presumed dead cannot overwrite the work of the one that replaced it.
- While working, the copier refreshes its rows' heartbeat on a timer (also while every thread is
  busy with one long multipart copy); the reaper hands rows with a stale heartbeat back to
  PENDING for another copier (see `lifecycle`).
- Datetimes written in raw SQL go through `datasharing.jobs.db_datetime`: stored exactly as the
  ORM writes them, so the reaper's conditional updates (keyed on these times) match on SQLite too.

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

from datasharing.jobs import backoff_seconds as jobs_backoff_seconds
from datasharing.jobs import db_datetime
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


@dataclass(frozen=True)
class CopierRun:
    claimed: int  # ledger rows this copier claimed
    sliced: bool  # its time slice ended: PENDING rows may remain for a successor


def run_copier(
    *,
    job_id: str,
    destination_key: Callable[[PushJob, str], str],
    make_transfer: Callable[[PushJob], Transfer],
    concurrency: int,
) -> CopierRun:
    """Copy files of the job until none is left to claim (or the time slice ends).

    Claims PENDING rows a few at a time (lowest ids first, so a claim's keys form one listing
    range) whenever the thread pool runs short of work, so threads never idle between batches.
    """
    job = PushJob.objects.get(id=job_id)
    if job.status != PushStatus.RUNNING:
        return CopierRun(claimed=0, sliced=False)
    return _Copier(job, destination_key, make_transfer, concurrency).run()


class _TransferUnavailable(Exception):
    """The transfer could not be set up; the claimed rows were failed with the reason."""


class _Copier:
    """The state of one copier run. Only `run`'s thread touches the database; the pool's threads
    transfer files and hand outcomes back through `completed`.

    Liveness: rows held under `token` get a fresh heartbeat every PUSH_HEARTBEAT_SECONDS on the
    loop's own timer, whatever else happens (outcomes recorded, or every thread busy with one long
    multipart copy): the loop never waits more than half a second for a transfer, and recording
    outcomes refreshes only the rows recorded, never the ones still being copied.
    """

    def __init__(
        self,
        job: PushJob,
        destination_key: Callable[[PushJob, str], str],
        make_transfer: Callable[[PushJob], Transfer],
        concurrency: int,
    ) -> None:
        self.job = job
        self.destination_key = destination_key
        self.make_transfer = make_transfer
        self.token = uuid.uuid4().hex
        self.concurrency = max(1, concurrency)
        self.chunk = max(CLAIM_MIN, 2 * self.concurrency)
        self.deadline = time.monotonic() + settings.PUSH_COPIER_SLICE_SECONDS
        self.transfer: Transfer | None = None
        self.files: dict[int, FileTask] = {}
        self.ready: list[FileOutcome] = []
        self.unverified: list[FileOutcome] = []
        self.stop = threading.Event()
        self.claiming = True
        self.sliced = False
        self.claimed_total = 0
        # Finished futures arrive on a queue (O(1) each, unlike re-waiting on every pending one).
        self.completed: queue.SimpleQueue[Future[FileOutcome]] = queue.SimpleQueue()
        self.futures: dict[Future[FileOutcome], FileTask] = {}
        self.in_flight = 0
        self.last_record = self.last_heartbeat = self.last_status_check = time.monotonic()

    def run(self) -> CopierRun:
        pool = ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="push")
        try:
            while True:
                topped_up = self._top_up(pool)
                # Right after a claim, only collect what is done: the pool may take more work.
                self._collect(timeout=0.5 if self.in_flight and not topped_up else 0)
                finished = not self.in_flight and not self._may_claim()
                self._settle(finished=finished)
                if finished:
                    break
                self._keep_alive()
        except _TransferUnavailable:
            return CopierRun(claimed=self.claimed_total, sliced=False)
        except BaseException:
            # Files being copied finish; the rest stay claimed until reconciliation hands them out
            # again.
            self._cancel()
            raise
        finally:
            pool.shutdown(wait=True)
            if self.transfer is not None:
                self.transfer.close()
        return CopierRun(claimed=self.claimed_total, sliced=self.sliced)

    def _may_claim(self) -> bool:
        return self.claiming and not self.stop.is_set()

    def _top_up(self, pool: ThreadPoolExecutor) -> bool:
        """Claim more rows when the pool runs short of work; True when it claimed some."""
        if not self._may_claim() or self.in_flight >= self.chunk:
            return False
        # Every copier takes at least one claim, so a successor always makes progress.
        if self.claimed_total and time.monotonic() >= self.deadline:
            self.claiming, self.sliced = False, True
            return False
        claimed = _claim(self.job.id, self.token, self.chunk, self.job, self.destination_key)
        if not claimed:
            self.claiming = False
            return False
        self.claimed_total += len(claimed)
        self.files.update({file.id: file for file in claimed})
        transfer = self._transfer(claimed)
        decided = _prepare(self.job.id, self.token, transfer, claimed)
        self.ready += decided
        skip = {outcome.file_id for outcome in decided}
        for file in claimed:
            if file.id not in skip:
                future = pool.submit(transfer.transfer, file, self.stop)
                self.futures[future] = file
                future.add_done_callback(self.completed.put)
                self.in_flight += 1
        return True

    def _transfer(self, claimed: list[FileTask]) -> Transfer:
        if self.transfer is None:
            try:
                self.transfer = self.make_transfer(self.job)
            except Exception as exc:
                logger.exception("Could not prepare the transfer")
                _fail_all(self.job.id, self.token, claimed, f"Could not start the transfer: {exc}")
                raise _TransferUnavailable from exc
        return self.transfer

    def _collect(self, *, timeout: float) -> None:
        done = _drain(self.completed, timeout=timeout)
        self.in_flight -= len(done)
        for future in done:
            outcome = _outcome_of(future, self.futures.pop(future))
            (self.unverified if outcome.status == "" else self.ready).append(outcome)

    def _settle(self, *, finished: bool) -> None:
        """Verify copied files and record outcomes, in groups (by count or by time)."""
        now = time.monotonic()
        due = now - self.last_record >= RECORD_EVERY_SECONDS or finished
        if (
            self.unverified
            and self.transfer is not None
            and (due or len(self.unverified) >= RECORD_EVERY_ROWS)
        ):
            self.transfer.verify(self.unverified, self.files)
            self.ready += self.unverified
            self.unverified = []
        if self.ready and (due or len(self.ready) >= RECORD_EVERY_ROWS):
            _record(self.job.id, self.token, self.ready)
            for outcome in self.ready:
                self.files.pop(outcome.file_id, None)  # keep memory flat in the file count
            self.ready = []
            self.last_record = now

    def _keep_alive(self) -> None:
        """Heartbeat the rows we hold; stop when the job is no longer RUNNING (aborted, failed)."""
        now = time.monotonic()
        if now - self.last_heartbeat >= settings.PUSH_HEARTBEAT_SECONDS:
            _heartbeat(self.job.id, self.token)
            self.last_heartbeat = now
        if now - self.last_status_check >= STATUS_CHECK_SECONDS and not self.stop.is_set():
            self.last_status_check = now
            status = PushJob.objects.filter(id=self.job.id).values_list("status", flat=True)
            if status.first() != PushStatus.RUNNING:
                logger.info("Push is no longer running; stopping this copier")
                self._cancel()

    def _cancel(self) -> None:
        self.stop.set()
        for future in list(self.futures):
            future.cancel()  # only those not started yet


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
    now = db_datetime(timezone.now())
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
    now = db_datetime(timezone.now())
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
    """Exponential backoff with jitter before file-level retry `attempt + 1` (`attempt` counts the
    retries so far, from 0)."""
    return jobs_backoff_seconds(
        attempt + 1,
        base=settings.PUSH_RETRY_BASE_SECONDS,
        cap=settings.PUSH_RETRY_MAX_SECONDS,
        jitter=True,
    )
