"""Streaming a file-like object into S3 (a single PUT or a multipart upload)."""

from __future__ import annotations

import hashlib
import io
from typing import TYPE_CHECKING, Any

from boto3.s3.transfer import TransferConfig

from datasharing.s3.parts import MIN_PART_SIZE

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


class HashingReader(io.RawIOBase):
    """Wraps a stream, counting bytes and computing their MD5 as they are read."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream
        self.md5 = hashlib.md5()  # noqa: S324 - a checksum, not security
        self.bytes_read = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        chunk: bytes = self._stream.read(size if size is not None and size >= 0 else None)
        self.md5.update(chunk)
        self.bytes_read += len(chunk)
        return chunk

    def readinto(self, buffer: Any) -> int:
        chunk = self.read(len(buffer))
        buffer[: len(chunk)] = chunk
        return len(chunk)


def upload_stream(
    stream: Any,
    *,
    s3_client: S3Client,
    bucket: str,
    key: str,
    multipart_threshold: int,
    part_size: int,
    concurrency: int,
    extra_args: dict[str, Any] | None = None,
) -> None:
    """Stream a file-like object into S3: one PUT below the threshold, else a multipart upload of
    `part_size` parts (`concurrency` in flight). Memory stays near part_size x concurrency."""
    transfer_config = TransferConfig(
        multipart_threshold=multipart_threshold,
        multipart_chunksize=max(part_size, MIN_PART_SIZE),
        max_concurrency=max(1, concurrency),
        use_threads=concurrency > 1,
    )
    s3_client.upload_fileobj(
        stream, bucket, key, ExtraArgs=extra_args or None, Config=transfer_config
    )
