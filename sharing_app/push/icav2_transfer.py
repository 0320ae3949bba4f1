"""Pushes into an ICAv2 project folder.

The REST API (sharing_app.push.icav2) resolves the project, creates the folders and hands out temporary
AWS credentials for the destination folder; each file is then streamed from its source object into
the project's storage with those credentials (bytes pass through the worker: memory stays near
ICAV2_UPLOAD_CONCURRENCY x ICAV2_PART_CONCURRENCY x ICAV2_PART_SIZE), and verified by size (and
by MD5 where a comparable one exists).
"""

from __future__ import annotations

import logging
import posixpath
import threading
from typing import Any

from django.conf import settings

from datasharing import s3
from sharing_app.push import icav2
from sharing_app.push.models import PushFileStatus, PushJob, VerificationMethod
from sharing_app.push.receipts import Icav2Writer
from sharing_app.push.runner import FileOutcome, FileTask
from sharing_app.push.s3_transfer import transfer_with_retries

logger = logging.getLogger(__name__)

EXPIRED_CREDENTIAL_CODES = frozenset(
    {"ExpiredToken", "ExpiredTokenException", "TokenRefreshRequired", "InvalidToken"}
)


def upload_client(credentials: icav2.Icav2UploadCredentials, *, pool: int) -> Any:
    return s3.client_for(
        s3.TemporaryCredentials(
            access_key=credentials.access_key,
            secret_key=credentials.secret_key,
            session_token=credentials.session_token,
            region=credentials.region,
            endpoint_url=settings.ICAV2_S3_ENDPOINT_URL,
        ),
        pool=pool,
    )


def _folder_prefix(credentials: icav2.Icav2UploadCredentials) -> str:
    prefix = credentials.object_prefix
    return prefix if prefix.endswith("/") else prefix + "/"


def writer_for(job: PushJob, api: icav2.Icav2Client | None = None) -> Icav2Writer:
    """A writer into the job's (resolved) destination folder with fresh credentials."""
    api = api or icav2.client()
    credentials = api.create_upload_credentials(job.icav2_project_id, job.icav2_folder_id)
    return Icav2Writer(
        upload_client(credentials, pool=4),
        credentials.bucket,
        _folder_prefix(credentials),
        label=f"icav2://{job.icav2_project_id}{job.icav2_folder_path}",
    )


def leaf_folders(relative_paths: list[str]) -> list[str]:
    """Deepest distinct folders of these paths ("a/b/" covers "a/"): ICAv2 creates parents."""
    folders = {posixpath.dirname(path) + "/" for path in relative_paths if "/" in path}
    return sorted(f for f in folders if not any(o != f and o.startswith(f) for o in folders))


class Icav2Transfer:
    def __init__(self, job: PushJob) -> None:
        self.job = job
        self.api = icav2.client()
        self.concurrency = max(1, settings.ICAV2_UPLOAD_CONCURRENCY)
        self._lock = threading.Lock()
        self._folders_ensured: set[str] = set()
        self._refresh_credentials()

    def _refresh_credentials(self) -> None:
        credentials = self.api.create_upload_credentials(
            self.job.icav2_project_id, self.job.icav2_folder_id
        )
        pool = self.concurrency * max(1, settings.ICAV2_PART_CONCURRENCY) + 2
        self.s3_client = upload_client(credentials, pool=pool)
        self.bucket = credentials.bucket
        self.prefix = _folder_prefix(credentials)

    def close(self) -> None:
        pass

    def prepare(self, files: list[FileTask]) -> list[FileOutcome]:
        for folder in leaf_folders([f.relative_path for f in files]):
            if folder not in self._folders_ensured:
                self.api.ensure_folder(
                    self.job.icav2_project_id, self.job.icav2_folder_path + folder
                )
                self._folders_ensured.add(folder)
        return []

    def verify(self, outcomes: list[FileOutcome], files: dict[int, FileTask]) -> None:
        """Uploads are verified in their thread (a HEAD right after the upload)."""

    def transfer(self, file: FileTask, stop: threading.Event) -> FileOutcome:
        return transfer_with_retries(
            file,
            stop,
            lambda: self._upload(file),
            action=("Upload", "uploaded"),
            recover=self._renew_expired_credentials,
        )

    def _renew_expired_credentials(self, exc: BaseException) -> bool:
        """Fresh upload credentials after `ExpiredToken` (then the upload is tried again)."""
        if s3.error_code(exc) not in EXPIRED_CREDENTIAL_CODES:
            return False
        with self._lock:
            self._refresh_credentials()
        return True

    def _upload(self, file: FileTask) -> FileOutcome:
        with self._lock:
            s3_client, bucket, prefix = self.s3_client, self.bucket, self.prefix
        key = prefix + file.relative_path
        existing = None
        if not (self.job.destination_was_empty and file.attempts <= 1):
            existing = s3.head_object_with(s3_client, bucket, key)
        if (
            existing is not None
            and existing.size == file.size
            and file.known_md5
            and existing.etag == file.known_md5
        ):
            return FileOutcome(
                file.id,
                PushFileStatus.SKIPPED if file.attempts <= 1 else PushFileStatus.SUCCEEDED,
                destination_etag=existing.etag,
                verification_method=VerificationMethod.MD5,
                transferred_bytes=file.size if file.attempts > 1 else 0,
            )
        source = s3.open_object_stream(file.source_bucket, file.source_key)
        reader = s3.HashingReader(source)
        try:
            s3.upload_stream(
                reader,
                s3_client=s3_client,
                bucket=bucket,
                key=key,
                multipart_threshold=settings.ICAV2_MULTIPART_THRESHOLD,
                part_size=settings.ICAV2_PART_SIZE,
                concurrency=settings.ICAV2_PART_CONCURRENCY,
            )
        finally:
            source.close()
        streamed_md5 = reader.md5.hexdigest()
        info = s3.head_object_with(s3_client, bucket, key)
        return self._verified(file, info, reader.bytes_read, streamed_md5)

    @staticmethod
    def _verified(
        file: FileTask, info: s3.ObjectInfo | None, bytes_read: int, streamed_md5: str
    ) -> FileOutcome:
        def failed(error: str) -> FileOutcome:
            return FileOutcome(file.id, PushFileStatus.FAILED, error=error)

        if bytes_read != file.size:
            return failed(f"read {bytes_read} bytes from the source, expected {file.size}")
        if info is None:
            return failed("not found in the ICAv2 project storage after the upload")
        if info.size != file.size:
            return failed(f"size mismatch: source {file.size} bytes, destination {info.size} bytes")
        if file.known_md5 and streamed_md5 != file.known_md5:
            return failed(
                f"checksum mismatch: bytes read have MD5 {streamed_md5}, source MD5 is "
                f"{file.known_md5}"
            )
        method = VerificationMethod.SIZE
        if file.known_md5 or (s3.is_md5_etag(info.etag) and info.etag == streamed_md5):
            method = VerificationMethod.STREAM_MD5
        return FileOutcome(
            file.id,
            PushFileStatus.SUCCEEDED,
            destination_etag=info.etag,
            verification_method=method,
            transferred_bytes=file.size,
        )
