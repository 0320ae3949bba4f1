"""Fixtures for pushes: real source objects in SeaweedFS, frozen packages, open destinations."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from datasharing import s3
from packages_app.models import Package
from tests.factories import make_frozen_package
from tests.s3_fault_proxy import S3FaultProxy


@dataclass(frozen=True)
class SourceFile:
    bucket: str
    key: str
    relative_path: str
    body: bytes

    @property
    def md5(self) -> str:
        return hashlib.md5(self.body).hexdigest()  # noqa: S324


def file_body(relative_path: str, size: int) -> bytes:
    """Deterministic, path-dependent content of `size` bytes."""
    seed = hashlib.sha256(relative_path.encode()).digest()
    return (seed * (size // len(seed) + 1))[:size]


@pytest.fixture
def source_files(bucket_factory: Callable[[str], str]) -> Callable[..., list[SourceFile]]:
    """Write objects into a fresh source bucket: make(("fastq/a.fastq.gz", 100), ...)."""

    def make(*specs: tuple[str, int]) -> list[SourceFile]:
        bucket = bucket_factory("src")
        files = []
        for relative_path, size in specs:
            key = f"primary/{relative_path}"
            body = file_body(relative_path, size)
            s3.put_object(bucket, key, body)
            files.append(SourceFile(bucket, key, relative_path, body))
        return files

    return make


@pytest.fixture
def package_factory(db: Any) -> Callable[..., Package]:
    def make(files: list[SourceFile], **kwargs: Any) -> Package:
        return make_frozen_package(
            files=[(f.bucket, f.key, f.relative_path) for f in files], **kwargs
        )

    return make


@pytest.fixture
def allow_destination(settings: Any) -> Callable[[str], str]:
    """Add a destination prefix to SHARE_ALLOWED_DESTINATIONS; returns it."""
    settings.SHARE_ALLOWED_DESTINATIONS = []

    def allow(uri: str) -> str:
        settings.SHARE_ALLOWED_DESTINATIONS = [*settings.SHARE_ALLOWED_DESTINATIONS, uri]
        return uri

    return allow


def read_object(bucket: str, key: str) -> bytes:
    return s3.get_object_bytes(bucket, key)


@pytest.fixture
def s3_proxy(settings: Any) -> Iterator[S3FaultProxy]:
    """S3 requests of this process go through a fault-injecting proxy to SeaweedFS."""
    proxy = S3FaultProxy(os.environ["AWS_ENDPOINT_URL_S3"]).start()
    settings.AWS_ENDPOINT_URL_S3 = proxy.url
    try:
        yield proxy
    finally:
        proxy.stop()


@pytest.fixture
def finished_pushes() -> Iterator[list[dict[str, str]]]:
    """Calls of the PUSH_FINISHED hook during the test."""
    from datasharing import hooks

    calls: list[dict[str, str]] = []

    def record(**kwargs: str) -> None:
        calls.append(kwargs)

    hooks.register(hooks.PUSH_FINISHED, record)
    try:
        yield calls
    finally:
        hooks._callbacks[hooks.PUSH_FINISHED].remove(record)
