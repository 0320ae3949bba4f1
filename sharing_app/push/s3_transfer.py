"""S3-to-S3 pushes: server-side copies (bytes never pass through the worker).

Per claimed batch: one listing of the destination range tells which files are already there and identical
(skipped); the others are copied on a bounded thread pool (CopyObject, or UploadPartCopy above
PUSH_MULTIPART_THRESHOLD and always above 5 GiB); a second listing verifies what was copied.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from django.conf import settings

from datasharing import s3
from sharing_app.push.models import PushFileStatus, PushJob, VerificationMethod
from sharing_app.push.runner import FileOutcome, FileTask, backoff_seconds, not_started

logger = logging.getLogger(__name__)

# Up to this many keys are looked up with HEAD requests; more with one listing of their range.
HEAD_LOOKUP_LIMIT = 3
# A listing reads at most 3 objects per key wanted plus this many before giving up on it (the
# range may hold many unrelated objects) and looking the remaining keys up one by one.
LISTING_SLACK = 1000


def describe_error(exc: BaseException) -> str:
    """A message for the ledger: what S3 said, and what to do about the common cases."""
    code = s3.error_code(exc)
    hints = {
        "PreconditionFailed": "the source object changed since the package was frozen",
        "NoSuchKey": "the source object no longer exists",
        "AccessDenied": "access denied (check the source and destination bucket policies)",
        "NoSuchBucket": "the bucket does not exist",
        "InvalidObjectState": "the source object is archived and not restored",
    }
    message = str(exc)
    return f"{hints[code]}: {message}" if code in hints else f"{code}: {message}"


def transfer_with_retries(
    file: FileTask,
    stop: threading.Event,
    attempt: Callable[[], FileOutcome],
    *,
    action: tuple[str, str],
    recover: Callable[[BaseException], bool] = lambda _exc: False,
) -> FileOutcome:
    """Run `attempt` for one file until it succeeds, fails for good, or the push stops.

    Retryable S3 errors (throttling, 5xx, timeouts), and those `recover` says it dealt with
    (e.g. fresh credentials after `ExpiredToken`), are tried again with backoff up to
    PUSH_FILE_MAX_ATTEMPTS; the outcome records the extra attempts. `action` names the work in
    messages: ("Copy", "copied")."""
    verb, past = action
    retries = 0
    while True:
        if stop.is_set():
            return not_started(file.id, f"the push stopped before this file was {past}")
        try:
            outcome = attempt()
        except s3.S3_ERRORS as exc:
            retryable = recover(exc) or s3.is_retryable(exc)
            if retryable and retries + 1 < settings.PUSH_FILE_MAX_ATTEMPTS:
                delay = backoff_seconds(retries)
                logger.warning(
                    "%s of %s failed (%s); retrying in %.1fs",
                    verb,
                    file.relative_path,
                    s3.error_code(exc),
                    delay,
                )
                retries += 1
                time.sleep(delay)
                continue
            return FileOutcome(
                file.id,
                PushFileStatus.FAILED,
                error=describe_error(exc),
                extra_attempts=retries,
            )
        outcome.extra_attempts = retries
        return outcome


def lookup_destination(
    bucket: str, keys: list[str], *, s3_client: s3.S3Client | None = None
) -> dict[str, s3.ObjectInfo | None]:
    """What exists at each key: a few HEADs, or one listing of the keys' range (bounded, so a
    destination full of unrelated objects falls back to HEADs)."""
    found: dict[str, s3.ObjectInfo | None] = {}
    if not keys:
        return found
    wanted = sorted(set(keys))
    if len(wanted) > HEAD_LOOKUP_LIMIT:
        # Character-wise on purpose: the longest shared key prefix narrows the listing.
        prefix = os.path.commonprefix(wanted)  # noqa: RUF071
        budget = 3 * len(wanted) + LISTING_SLACK
        last_seen = ""
        completed = True
        for info in s3.list_objects_range(
            bucket, prefix=prefix, first_key=wanted[0], last_key=wanted[-1], s3_client=s3_client
        ):
            last_seen = info.key
            found[info.key] = info
            budget -= 1
            if budget <= 0:
                completed = False
                break
        wanted_set = set(wanted)
        found = {key: info for key, info in found.items() if key in wanted_set}
        for key in wanted:
            if key not in found and (completed or key <= last_seen):
                found[key] = None
    for key in wanted:
        if key not in found:
            found[key] = (
                s3.head_object_with(s3_client, bucket, key)
                if s3_client
                else s3.head_object(bucket, key)
            )
    return found


def is_identical(file: FileTask, info: s3.ObjectInfo | None) -> bool:
    """Same size and a comparable checksum equal (multipart ETags of other layouts never match)."""
    if info is None or info.size != file.size:
        return False
    if file.source_etag and info.etag == file.source_etag:
        return True
    return bool(file.known_md5) and info.etag == file.known_md5


def identical_method(file: FileTask, info: s3.ObjectInfo) -> str:
    if file.source_etag and info.etag == file.source_etag:
        return VerificationMethod.ETAG
    return VerificationMethod.MD5


def verify_copy(
    file: FileTask,
    info: s3.ObjectInfo | None,
    copy_result: s3.CopyResult | None,
    *,
    sse_of: Callable[[s3.ObjectInfo], str] | None = None,
) -> tuple[bool, str, str]:
    """(ok, verification method, error) for a file just copied to `info`.

    Size must match. Then the strongest comparable check decides: the source's ETag; the source's
    MD5 against a single-part destination ETag; the ETag assembled from the copied parts' MD5s;
    else size alone. Only a failed comparable check fails the file (a multipart ETag of another
    part layout is not evidence of a difference).
    """
    if info is None:
        return False, "", "not found at the destination after the copy"
    if info.size != file.size:
        return (
            False,
            "",
            f"size mismatch: source {file.size} bytes, destination {info.size} bytes",
        )
    if file.source_etag and info.etag == file.source_etag:
        return True, VerificationMethod.ETAG, ""
    if file.known_md5 and s3.is_md5_etag(info.etag):
        if info.etag == file.known_md5:
            return True, VerificationMethod.MD5, ""
        # SSE-KMS objects have ETags that are not MD5s: nothing to compare there.
        if sse_of is not None and sse_of(info) == "aws:kms":
            return True, VerificationMethod.SIZE, ""
        return (
            False,
            "",
            f"checksum mismatch: destination ETag {info.etag}, source MD5 {file.known_md5}",
        )
    if copy_result is not None and copy_result.is_multipart:
        expected = s3.multipart_etag(list(copy_result.part_etags))
        if expected is not None:
            if expected == info.etag:
                return True, VerificationMethod.PART_ETAGS, ""
            return (
                False,
                "",
                f"destination ETag {info.etag} differs from {expected}, assembled from the "
                "copied parts",
            )
    return True, VerificationMethod.SIZE, ""


class S3Transfer:
    def __init__(self, job: PushJob) -> None:
        self.bucket = job.destination_bucket
        self.destination_was_empty = job.destination_was_empty
        self.threshold = min(settings.PUSH_MULTIPART_THRESHOLD, s3.MAX_SINGLE_COPY_SIZE)
        self.acl = settings.PUSH_S3_ACL
        self._part_pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    def _parts(self) -> ThreadPoolExecutor:
        # Parts get their own pool: file threads wait on parts, so sharing one pool could deadlock.
        with self._lock:
            if self._part_pool is None:
                self._part_pool = ThreadPoolExecutor(
                    max_workers=max(1, settings.PUSH_PART_CONCURRENCY),
                    thread_name_prefix="push-part",
                )
            return self._part_pool

    def close(self) -> None:
        if self._part_pool is not None:
            self._part_pool.shutdown(wait=True)

    def prepare(self, files: list[FileTask]) -> list[FileOutcome]:
        if self.destination_was_empty:
            # Only an earlier attempt of this job can have written these (then verify, not copy).
            files = [f for f in files if f.attempts > 1]
        existing = lookup_destination(self.bucket, [f.destination_key for f in files])
        outcomes = []
        for file in files:
            info = existing.get(file.destination_key)
            if info is not None and is_identical(file, info):
                outcomes.append(
                    FileOutcome(
                        file.id,
                        # A retried row found complete was written by this job's earlier attempt.
                        PushFileStatus.SKIPPED if file.attempts <= 1 else PushFileStatus.SUCCEEDED,
                        destination_etag=info.etag,
                        verification_method=identical_method(file, info),
                        transferred_bytes=file.size if file.attempts > 1 else 0,
                    )
                )
        return outcomes

    def _copy(self, file: FileTask) -> s3.CopyResult:
        if file.size <= self.threshold:
            return s3.copy_object(
                source_bucket=file.source_bucket,
                source_key=file.source_key,
                bucket=self.bucket,
                key=file.destination_key,
                if_match=file.source_etag,
                acl=self.acl,
            )
        if file.attempts > 1:
            # An earlier attempt may have died mid-upload: do not leave its parts behind.
            s3.abort_multipart_uploads(self.bucket, file.destination_key)
        source_part = None
        if s3.multipart_part_count(file.source_etag):
            source_part = s3.source_part_size(file.source_bucket, file.source_key)
        part_size = s3.choose_part_size(
            file.size,
            preferred=settings.PUSH_MULTIPART_PART_SIZE,
            source_part_size=source_part,
        )
        return s3.multipart_copy(
            source_bucket=file.source_bucket,
            source_key=file.source_key,
            bucket=self.bucket,
            key=file.destination_key,
            size=file.size,
            part_size=part_size,
            if_match=file.source_etag,
            acl=self.acl,
            executor=self._parts(),
        )

    def transfer(self, file: FileTask, stop: threading.Event) -> FileOutcome:
        def copy() -> FileOutcome:
            result = self._copy(file)
            return FileOutcome(
                file.id,
                "",
                destination_etag=result.etag,
                transferred_bytes=file.size,
                copy_result=result,
            )

        return transfer_with_retries(file, stop, copy, action=("Copy", "copied"))

    def verify(self, outcomes: list[FileOutcome], files: dict[int, FileTask]) -> None:
        """Settle copied files. The ETag S3 returns for the object it wrote is computed from the
        bytes written: equal to the source's frozen ETag (or known MD5) it proves the content,
        size included. Other copies (multipart layouts, SSE-KMS, or PUSH_VERIFY_READBACK) are
        read back with one listing of their range and checked by size and what compares."""
        to_read: list[FileOutcome] = []
        for outcome in outcomes:
            file = files[outcome.file_id]
            written = outcome.copy_result.etag if outcome.copy_result else ""
            if settings.PUSH_VERIFY_READBACK or not written:
                to_read.append(outcome)
            elif file.source_etag and written == file.source_etag:
                outcome.status = PushFileStatus.SUCCEEDED
                outcome.verification_method = VerificationMethod.ETAG
            elif file.known_md5 and written == file.known_md5:
                outcome.status = PushFileStatus.SUCCEEDED
                outcome.verification_method = VerificationMethod.MD5
            else:
                to_read.append(outcome)
        if to_read:
            self._read_back(to_read, files)

    def _read_back(self, outcomes: list[FileOutcome], files: dict[int, FileTask]) -> None:
        try:
            found = lookup_destination(
                self.bucket, [files[o.file_id].destination_key for o in outcomes]
            )
        except s3.S3_ERRORS as exc:
            for outcome in outcomes:
                outcome.status = PushFileStatus.FAILED
                outcome.error = f"copied, but could not be verified: {describe_error(exc)}"
            return
        for outcome in outcomes:
            file = files[outcome.file_id]
            info = found.get(file.destination_key)
            ok, method, error = verify_copy(
                file,
                info,
                outcome.copy_result,
                sse_of=lambda obj: s3.head_object_sse(obj.bucket, obj.key),
            )
            outcome.status = PushFileStatus.SUCCEEDED if ok else PushFileStatus.FAILED
            outcome.verification_method = method
            outcome.error = error
            if info is not None:
                outcome.destination_etag = info.etag
