"""Fixtures for pushes: real source objects in SeaweedFS, frozen packages, open destinations."""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from datasharing import s3
from packages_app.models import Package
from tests.factories import make_frozen_package
from tests.fake_icav2 import FakeIcav2
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


# SeaweedFS gives every bucket its own volumes (a few hundred in all): tests share two buckets
# and each test writes under its own prefix.
SOURCE_BUCKET = "push-test-source"
DESTINATION_BUCKET = "push-test-destination"


@pytest.fixture(scope="session")
def push_buckets() -> tuple[str, str]:
    for bucket in (SOURCE_BUCKET, DESTINATION_BUCKET):
        s3.ensure_bucket(bucket)
    return SOURCE_BUCKET, DESTINATION_BUCKET


def unique_prefix(label: str) -> str:
    return f"{label}-{uuid.uuid4().hex[:12]}/"


@dataclass(frozen=True)
class Place:
    """A destination folder in the shared destination bucket."""

    bucket: str
    prefix: str

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"

    def key(self, relative_path: str) -> str:
        return self.prefix + relative_path


@pytest.fixture
def dest_factory(push_buckets: tuple[str, str]) -> Callable[[str], Place]:
    """A fresh, empty destination folder: dest_factory("label")."""
    return lambda label="dst": Place(push_buckets[1], unique_prefix(label))


@pytest.fixture
def source_files(push_buckets: tuple[str, str]) -> Callable[..., list[SourceFile]]:
    """Write source objects under a fresh prefix: make(("fastq/a.fastq.gz", 100), ...)."""

    def make(*specs: tuple[str, int]) -> list[SourceFile]:
        prefix = unique_prefix("src")
        files = []
        for relative_path, size in specs:
            key = f"{prefix}{relative_path}"
            body = file_body(relative_path, size)
            s3.put_object(push_buckets[0], key, body)
            files.append(SourceFile(push_buckets[0], key, relative_path, body))
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


@pytest.fixture
def fake_icav2(settings: Any) -> Iterator[FakeIcav2]:
    """A fake ICAv2 API (storage in the moto S3 server); settings point the client at it."""
    fake = FakeIcav2(storage_endpoint=os.environ["TEST_MOTO_URL"]).start()
    settings.ICAV2_BASE_URL = fake.base_url
    settings.ICAV2_API_KEY = fake.api_key
    settings.ICAV2_ACCESS_TOKEN = ""
    settings.ICAV2_S3_ENDPOINT_URL = os.environ["TEST_MOTO_URL"]
    try:
        yield fake
    finally:
        fake.stop()
