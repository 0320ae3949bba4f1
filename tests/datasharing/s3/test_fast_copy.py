"""CopyObject and UploadPartCopy signed and sent by FastCopy (datasharing.s3.fast_copy), against SeaweedFS (which checks
signatures) through the fault-injecting proxy: what it sends is what botocore would, and every
answer but a successful copy is parsed, retried and raised by botocore."""

from __future__ import annotations

import logging
import re
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from datasharing import s3
from datasharing.s3 import fast_copy
from tests.s3_fault_proxy import Rule, S3FaultProxy, is_copy
from tests.sharing_app.conftest import Place, SourceFile

# Keys that need percent-encoding in the URL, the copy source and the canonical request.
AWKWARD = "fastq/RUN 1/Lane_1/L+1=a&b~c(1)/L1_R1 \u00e9t\u00e9.fastq.gz"


def copies_to(proxy: S3FaultProxy, dest: Place) -> list[dict[str, str]]:
    """Headers of the copy requests the proxy saw into `dest`."""
    return [
        headers
        for (method, path), headers in zip(proxy.requests, proxy.headers, strict=True)
        if path.startswith(f"/{dest.bucket}/") and is_copy(method, path, headers)
    ]


def sent_by_botocore(headers: dict[str, str]) -> bool:
    return "amz-sdk-invocation-id" in headers


def botocore_attempt(headers: dict[str, str]) -> int:
    """Which attempt of its call botocore said a request was."""
    match = re.search(r"\battempt=(\d+)", headers["amz-sdk-request"])
    assert match
    return int(match.group(1))


def copy(source: SourceFile, dest: Place, *, if_match: str | None = None) -> s3.CopyResult:
    return s3.copy_object(
        source_bucket=source.bucket,
        source_key=source.key,
        bucket=dest.bucket,
        key=dest.key(source.relative_path),
        if_match=source.md5 if if_match is None else if_match,
    )


def fast_copy_for(bucket: str) -> fast_copy.FastCopy:
    fast = fast_copy.fast_copy_for(s3.client(), bucket)
    assert fast is not None
    return fast


def test_a_copy_is_one_request_signed_here_that_the_server_accepts(
    source_files, dest_factory, s3_proxy, settings
) -> None:
    settings.PUSH_S3_ACL = ""
    source = source_files((AWKWARD, 300))[0]
    dest = dest_factory()

    result = copy(source, dest)

    assert result.etag == source.md5
    assert s3.get_object_bytes(dest.bucket, dest.key(AWKWARD)) == source.body
    sent = copies_to(s3_proxy, dest)
    assert len(sent) == 1
    assert not sent_by_botocore(sent[0])
    assert sent[0]["x-amz-copy-source-if-match"] == f'"{source.md5}"'
    assert fast_copy_for(dest.bucket).ready()


def test_a_copy_with_an_acl_is_signed_here_too(source_files, dest_factory, s3_proxy) -> None:
    source = source_files(("acl.bam", 64))[0]
    dest = dest_factory()

    result = s3.copy_object(
        source_bucket=source.bucket,
        source_key=source.key,
        bucket=dest.bucket,
        key=dest.key("acl.bam"),
        acl="bucket-owner-full-control",
    )

    assert result.etag == source.md5
    (sent,) = copies_to(s3_proxy, dest)
    assert sent["x-amz-acl"] == "bucket-owner-full-control"
    assert not sent_by_botocore(sent)


def test_200_ok_with_an_error_body_is_retried_by_botocore(
    source_files, dest_factory, s3_proxy, settings
) -> None:
    settings.S3_MAX_ATTEMPTS = 3
    source = source_files(("a.fastq.gz", 100))[0]
    dest = dest_factory()
    error_body = s3_proxy.add(Rule(is_copy, ok_with_error=True, times=1))

    result = copy(source, dest)

    assert result.etag == source.md5
    assert error_body.hits == 1
    first, retry = copies_to(s3_proxy, dest)
    assert not sent_by_botocore(first) and sent_by_botocore(retry)
    assert botocore_attempt(retry) == 2
    # Until the pause ends, botocore (and its adaptive rate limiter) sends every copy.
    assert not fast_copy_for(dest.bucket).ready()


def test_200_ok_with_an_error_body_is_an_internal_error_once_retries_are_spent(
    source_files, dest_factory, s3_proxy, settings
) -> None:
    settings.S3_MAX_ATTEMPTS = 0  # no client-level retries
    source = source_files(("a.fastq.gz", 100))[0]
    dest = dest_factory()
    s3_proxy.add(Rule(is_copy, ok_with_error=True))

    with pytest.raises(ClientError) as raised:
        copy(source, dest)

    assert s3.error_code(raised.value) == "InternalError"
    assert s3.is_retryable(raised.value)
    assert len(copies_to(s3_proxy, dest)) == 1


def test_throttling_is_retried_by_botocore_which_then_sends_copies_for_a_while(
    source_files, dest_factory, s3_proxy, settings
) -> None:
    settings.S3_MAX_ATTEMPTS = 4
    first_source, second_source = source_files(("a.fastq.gz", 100), ("b.fastq.gz", 100))
    dest = dest_factory()
    slow_down = s3_proxy.add(Rule(is_copy, status=503, times=2))

    assert copy(first_source, dest).etag == first_source.md5
    assert copy(second_source, dest).etag == second_source.md5

    assert slow_down.hits == 2
    sent = copies_to(s3_proxy, dest)
    assert [sent_by_botocore(headers) for headers in sent] == [False, True, True, True]
    # The first copy: ours was botocore's first attempt. The second: botocore's alone.
    assert [botocore_attempt(headers) for headers in sent[1:]] == [2, 3, 1]


def test_a_connection_closed_without_an_answer_is_retried(
    source_files, dest_factory, s3_proxy, settings
) -> None:
    settings.S3_MAX_ATTEMPTS = 3
    source = source_files(("a.fastq.gz", 100))[0]
    dest = dest_factory()
    dropped = s3_proxy.add(Rule(is_copy, drop=True, times=1))

    assert copy(source, dest).etag == source.md5

    assert dropped.hits == 1
    assert [sent_by_botocore(h) for h in copies_to(s3_proxy, dest)] == [False, True]


def test_a_changed_source_fails_at_once_without_a_retry(
    source_files, dest_factory, s3_proxy, settings
) -> None:
    settings.S3_MAX_ATTEMPTS = 4
    source = source_files(("a.fastq.gz", 100))[0]
    dest = dest_factory()

    with pytest.raises(ClientError) as raised:
        copy(source, dest, if_match="0123456789abcdef0123456789abcdef")

    assert s3.error_code(raised.value) == "PreconditionFailed"
    assert "CopyObject operation" in str(raised.value)
    assert len(copies_to(s3_proxy, dest)) == 1
    # A refusal is an answer, not a sign of trouble: the next copy is signed here again.
    assert fast_copy_for(dest.bucket).ready()


def test_with_s3_fast_copy_off_botocore_sends_every_copy(
    source_files, dest_factory, s3_proxy, settings
) -> None:
    settings.S3_FAST_COPY = False
    source = source_files(("a.fastq.gz", 100))[0]
    dest = dest_factory()

    assert copy(source, dest).etag == source.md5

    (sent,) = copies_to(s3_proxy, dest)
    assert sent_by_botocore(sent)


def part_copies_to(proxy: S3FaultProxy, dest: Place) -> list[dict[str, str]]:
    return [
        headers
        for (method, path), headers in zip(proxy.requests, proxy.headers, strict=True)
        if path.startswith(f"/{dest.bucket}/")
        and is_copy(method, path, headers)
        and "uploadId=" in path
    ]


def copy_in_parts(source: SourceFile, dest: Place, *, part_size: int) -> s3.CopyResult:
    return s3.multipart_copy(
        source_bucket=source.bucket,
        source_key=source.key,
        bucket=dest.bucket,
        key=dest.key(source.relative_path),
        size=len(source.body),
        part_size=part_size,
        if_match=source.md5,
    )


def corrupt_signing_key(fast: fast_copy.FastCopy, monkeypatch: pytest.MonkeyPatch) -> None:
    """Our signatures go wrong from now on (botocore's stay right): what a botocore change our
    check request did not catch would look like to the server."""
    monkeypatch.setattr(fast.signing_keys, "key", lambda secret_key, date: b"\0" * 32)


def test_part_copies_are_signed_here_and_the_server_accepts_them(
    source_files, dest_factory, s3_proxy
) -> None:
    mib = 1024**2
    source = source_files((AWKWARD, 11 * mib + 3))[0]
    dest = dest_factory()

    result = copy_in_parts(source, dest, part_size=5 * mib)

    assert len(result.part_etags) == 3
    assert s3.get_object_bytes(dest.bucket, dest.key(AWKWARD)) == source.body
    sent = part_copies_to(s3_proxy, dest)
    assert len(sent) == 3
    assert not any(sent_by_botocore(headers) for headers in sent)
    assert [headers["x-amz-copy-source-range"] for headers in sent] == [
        f"bytes=0-{5 * mib - 1}",
        f"bytes={5 * mib}-{10 * mib - 1}",
        f"bytes={10 * mib}-{11 * mib + 2}",
    ]
    assert {headers["x-amz-copy-source-if-match"] for headers in sent} == {f'"{source.md5}"'}


def test_a_throttled_part_copy_is_retried_by_botocore(
    source_files, dest_factory, s3_proxy, settings
) -> None:
    settings.S3_MAX_ATTEMPTS = 3
    source = source_files(("big.bam", 6 * 1024**2))[0]
    dest = dest_factory()
    slow_down = s3_proxy.add(Rule(is_copy, status=503, times=1))

    result = copy_in_parts(source, dest, part_size=5 * 1024**2)

    assert slow_down.hits == 1
    assert s3.get_object_bytes(dest.bucket, dest.key("big.bam")) == source.body
    first, retry, second_part = part_copies_to(s3_proxy, dest)
    assert not sent_by_botocore(first)
    assert sent_by_botocore(retry) and botocore_attempt(retry) == 2
    assert sent_by_botocore(second_part)  # paused after the throttling
    assert len(result.part_etags) == 2


def test_a_copy_whose_signature_the_server_refuses_is_sent_by_botocore_from_then_on(
    source_files, dest_factory, s3_proxy, monkeypatch, caplog
) -> None:
    first, second = source_files(("a.fastq.gz", 100), ("b.fastq.gz", 100))
    dest = dest_factory()
    corrupt_signing_key(fast_copy_for(dest.bucket), monkeypatch)

    with caplog.at_level(logging.ERROR, logger="datasharing.s3"):
        assert copy(first, dest).etag == first.md5
    assert copy(second, dest).etag == second.md5

    assert s3.get_object_bytes(dest.bucket, dest.key("b.fastq.gz")) == second.body
    refused, resent, later = copies_to(s3_proxy, dest)
    assert not sent_by_botocore(refused)
    # botocore signs and sends the copy itself: its own first attempt, not a retry.
    assert sent_by_botocore(resent) and botocore_attempt(resent) == 1
    assert sent_by_botocore(later)
    assert not fast_copy_for(dest.bucket).ready()
    (record,) = [r for r in caplog.records if r.name.startswith("datasharing.s3")]
    assert record.levelno == logging.ERROR
    assert "SignatureDoesNotMatch" in record.getMessage()
    assert f"every later copy into {dest.bucket}" in record.getMessage()
    assert "test-secret-key" not in caplog.text


def test_a_part_copy_whose_signature_the_server_refuses_is_sent_by_botocore(
    source_files, dest_factory, s3_proxy, monkeypatch, caplog
) -> None:
    source = source_files(("big.bam", 11 * 1024**2))[0]
    dest = dest_factory()
    corrupt_signing_key(fast_copy_for(dest.bucket), monkeypatch)

    with caplog.at_level(logging.ERROR, logger="datasharing.s3"):
        result = copy_in_parts(source, dest, part_size=5 * 1024**2)

    assert len(result.part_etags) == 3
    assert s3.get_object_bytes(dest.bucket, dest.key("big.bam")) == source.body
    sent = part_copies_to(s3_proxy, dest)
    assert [sent_by_botocore(headers) for headers in sent] == [False, True, True, True]
    assert botocore_attempt(sent[1]) == 1
    assert "SignatureDoesNotMatch" in caplog.text


def aws_client(signature_version: str = "s3v4", **credentials: Any) -> Any:
    """A client for AWS itself (nothing is sent: only the check request, which is answered
    locally)."""
    session = boto3.session.Session(**credentials)
    config = Config(
        region_name="eu-west-1",
        signature_version=signature_version,
        ignore_configured_endpoint_urls=True,
    )
    client = session.client("s3", config=config)
    fast_copy.register_copy_hook(client)
    return client


@pytest.mark.parametrize(
    ("bucket", "url_prefix"),
    [
        ("collab-bucket", "https://collab-bucket.s3.eu-west-1.amazonaws.com/"),
        ("collab.bucket", "https://s3.eu-west-1.amazonaws.com/collab.bucket/"),
    ],
)
def test_for_aws_the_fast_signer_matches_botocore_with_temporary_credentials(
    bucket: str, url_prefix: str
) -> None:
    client = aws_client(
        aws_access_key_id="ASIAEXAMPLEEXAMPLE",
        aws_secret_access_key="example-secret-key",
        aws_session_token="example-session-token/with+odd=characters",
    )

    fast = fast_copy.build_fast_copy(client, bucket)

    assert fast is not None
    assert fast.url_prefix == url_prefix
    assert (fast.region, fast.service) == ("eu-west-1", "s3")
    _, headers = fast.copy_request(
        source_bucket="src",
        source_key="a.bam",
        key="b.bam",
        if_match="",
        acl="",
        amz_date="20250101T000000Z",
        credentials=client._request_signer._credentials.get_frozen_credentials(),
    )
    assert headers["x-amz-security-token"] == "example-session-token/with+odd=characters"
    assert "example-secret-key" not in repr(fast)


def test_a_client_that_signs_otherwise_keeps_botocore_for_its_copies(caplog) -> None:
    client = aws_client(
        signature_version="s3", aws_access_key_id="AKIAEXAMPLE", aws_secret_access_key="secret"
    )

    with caplog.at_level(logging.WARNING, logger="datasharing.s3"):
        assert fast_copy.build_fast_copy(client, "collab-bucket") is None

    assert "fast signer does not match botocore for collab-bucket" in caplog.text
    assert "secret" not in caplog.text
