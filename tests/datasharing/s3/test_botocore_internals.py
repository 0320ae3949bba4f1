"""What `datasharing.s3.signing` relies on in botocore: its private attributes, and signatures equal
to botocore's for CopyObject / UploadPartCopy (presigned URLs: tests/sharing_app/presign/
test_signing.py). These tests fail when a botocore upgrade changes them; in production the same
change is logged as an error and botocore does the work."""

from __future__ import annotations

import datetime as dt
import logging
import types
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse, HTTPHeaders
from botocore.config import Config
from botocore.credentials import RefreshableCredentials

from datasharing import s3
from datasharing.s3 import clients, fast_copy, presign, signing
from tests.s3_fault_proxy import S3FaultProxy, is_copy
from tests.sharing_app.conftest import Place, SourceFile

KEYS = [
    "fastq/241024_A00130_0336_BHW7MVDSXC/Lane_1/L2401544/L2401544_S1_L001_R1_001.fastq.gz",
    "a b/c+d=e&f~g'h(i)*j!k@l$m,n;o:p?q#r[s]t/u%v.txt",
    "r\u00e9sum\u00e9/\u6587\u4ef6/\U0001f9ec.bam",
    "double//slash/and trailing space ",
    "-leading-dash",
    "x" * 900,
]
UPLOAD_IDS = [
    "VXBsb2FkIElEIGZvciA2aWWpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZA--",
    "2~Ab+c/d=e f%g",
    "0197f0e1-5c1a-7d3e-9a42-0123456789ab",
]
TOKEN = "FwoGZXIvYXdzEXAMPLE//token+with/slashes=="


def make_client(*, endpoint_url: str | None, region: str, token: str | None = None) -> Any:
    session = boto3.session.Session(
        aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key="wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        aws_session_token=token,
    )
    return session.client(
        "s3",
        endpoint_url=endpoint_url,
        config=Config(
            region_name=region,
            signature_version="s3v4",
            s3={"addressing_style": "path" if endpoint_url else "auto"},
            ignore_configured_endpoint_urls=endpoint_url is None,
        ),
    )


class _Body:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **kwargs: Any) -> Any:
        yield self._body


def prepared_by_botocore(client: Any, operation: str, **params: Any) -> Any:
    """The request botocore would send for `operation` (answered here, not sent)."""
    captured: list[Any] = []

    def answer(request: Any, **kwargs: Any) -> AWSResponse:
        captured.append(request)
        body = b"<CopyObjectResult><ETag>&quot;0&quot;</ETag></CopyObjectResult>"
        return AWSResponse(request.url, 200, HTTPHeaders(), _Body(body))

    event = f"before-send.s3.{operation}"
    client.meta.events.register(event, answer)
    try:
        getattr(
            client, {"CopyObject": "copy_object", "UploadPartCopy": "upload_part_copy"}[operation]
        )(**params)
    finally:
        client.meta.events.unregister(event, answer)
    (request,) = captured
    return request


def as_sent(request: Any) -> tuple[str, dict[str, str]]:
    """(URL, the headers SigV4 signed and Authorization) of a request botocore prepared."""
    headers = {
        name.lower(): value.decode() if isinstance(value, bytes) else value
        for name, value in request.headers.items()
    }
    authorization = signing.parse_authorization(headers["authorization"])
    assert authorization is not None
    signed = {name: headers[name] for name in authorization.signed_headers if name != "host"}
    return request.url, signed | {"authorization": headers["authorization"]}


# --- Private attributes ---------------------------------------------------------------------------


def test_our_clients_expose_the_credentials_and_http_session_we_read(caplog) -> None:
    presign_only = clients._presign_client(None, "eu-west-1", "AKIDPRESIGN", "presign-secret")

    with caplog.at_level(logging.ERROR, logger="datasharing.s3"):
        for client in (
            s3.client(),
            presign_only,
            make_client(endpoint_url=None, region="us-east-1"),
        ):
            credentials = signing.client_credentials(client, purpose="test")
            assert credentials is not None
            frozen = credentials.get_frozen_credentials()
            assert frozen.access_key and frozen.secret_key
            assert callable(signing.client_http_session(client, purpose="test").send)

    assert caplog.records == []


def test_temporary_credentials_expose_their_expiry() -> None:
    expiry = dt.datetime(2030, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    refreshable = RefreshableCredentials(
        access_key="ASIAEXAMPLE",
        secret_key="secret",
        token="token",
        expiry_time=expiry,
        refresh_using=lambda: {},
        method="test",
    )

    assert signing.credentials_expiry(refreshable) == expiry
    assert signing.credentials_expiry(s3.client()._request_signer._credentials) is None


def test_botocore_parses_response_timestamps_with_ours() -> None:
    parsed: list[Any] = []

    def parser(value: Any) -> dt.datetime:
        parsed.append(value)
        return clients._parse_timestamp(value)

    session = boto3.session.Session(aws_access_key_id="AKID", aws_secret_access_key="secret")
    assert signing.set_timestamp_parser(session, parser)
    client = session.client("s3", endpoint_url="http://127.0.0.1:9", region_name="us-east-1")

    def answer(request: Any, **kwargs: Any) -> AWSResponse:
        body = (
            b"<ListBucketResult><Contents><Key>k</Key>"
            b"<LastModified>2025-01-02T03:04:05.000Z</LastModified></Contents></ListBucketResult>"
        )
        return AWSResponse(request.url, 200, HTTPHeaders(), _Body(body))

    client.meta.events.register("before-send.s3.ListObjectsV2", answer)
    listed = client.list_objects_v2(Bucket="b")

    assert parsed == ["2025-01-02T03:04:05.000Z"]
    assert listed["Contents"][0]["LastModified"] == dt.datetime(2025, 1, 2, 3, 4, 5, tzinfo=dt.UTC)


# --- Signatures equal to botocore's ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("endpoint_url", "region", "bucket", "token"),
    [
        ("http://127.0.0.1:8333", "us-east-1", "facility-primary", None),
        ("https://s3.example.org", "ap-southeast-2", "facility.dotted.bucket", None),
        ("http://[::1]:9000", "eu-west-1", "analysis-123", TOKEN),
        (None, "us-east-1", "facility-primary", None),
        (None, "ap-southeast-2", "facility-primary", TOKEN),
        (None, "eu-central-1", "facility.dotted.bucket", None),
    ],
)
def test_copy_and_part_copy_are_signed_exactly_as_botocore_signs_them(
    endpoint_url: str | None, region: str, bucket: str, token: str | None
) -> None:
    client = make_client(endpoint_url=endpoint_url, region=region, token=token)
    fast = fast_copy.build_fast_copy(client, bucket)
    assert fast is not None
    frozen = client._request_signer._credentials.get_frozen_credentials()

    for key, source_key, upload_id in zip(KEYS, reversed(KEYS), UPLOAD_IDS * 2, strict=True):
        source = {"Bucket": "source-bucket", "Key": source_key}
        copy = prepared_by_botocore(
            client,
            "CopyObject",
            Bucket=bucket,
            Key=key,
            CopySource=source,
            CopySourceIfMatch='"0123456789abcdef0123456789abcdef"',
            ACL="bucket-owner-full-control",
        )
        part = prepared_by_botocore(
            client,
            "UploadPartCopy",
            Bucket=bucket,
            Key=key,
            UploadId=upload_id,
            PartNumber=10000,
            CopySource=source,
            CopySourceRange="bytes=5242880-10485759",
        )

        assert as_sent(copy) == fast.copy_request(
            source_bucket="source-bucket",
            source_key=source_key,
            key=key,
            if_match="0123456789abcdef0123456789abcdef",
            acl="bucket-owner-full-control",
            amz_date=as_sent(copy)[1]["x-amz-date"],
            credentials=frozen,
        )
        assert as_sent(part) == fast.part_copy_request(
            source_bucket="source-bucket",
            source_key=source_key,
            key=key,
            upload_id=upload_id,
            part=(10000, 5242880, 10485759),
            if_match="",
            amz_date=as_sent(part)[1]["x-amz-date"],
            credentials=frozen,
        )


def test_the_fast_copy_of_our_own_client_matches_botocore() -> None:
    assert fast_copy.build_fast_copy(s3.client(), "any-destination-bucket") is not None


# --- Internals missing at run time: logged, and botocore does the work ----------------------------


class WithoutAttribute:
    """A botocore object as a future botocore might have it: `missing` gone, the rest the same."""

    def __init__(self, wrapped: Any, missing: str) -> None:
        self._wrapped = wrapped
        self._missing = missing

    def __getattr__(self, name: str) -> Any:
        if name == self._missing:
            raise AttributeError(name)
        return getattr(self._wrapped, name)


def test_without_the_credentials_attribute_presign_logs_an_error_and_botocore_signs(
    monkeypatch: pytest.MonkeyPatch, caplog
) -> None:
    client = make_client(endpoint_url="http://127.0.0.1:8333", region="us-east-1")
    monkeypatch.setattr(
        client, "_request_signer", WithoutAttribute(client._request_signer, "_credentials")
    )
    monkeypatch.setattr(presign, "presign_client", lambda: client)
    objects = [("facility-primary", key) for key in KEYS[:2]]

    with caplog.at_level(logging.ERROR, logger="datasharing.s3"):
        result = s3.presigned_get_urls(objects, expires_in=600)

    assert result.signer == "botocore"
    assert all("X-Amz-Signature=" in url for url in result.urls)
    assert "botocore internals changed" in caplog.text
    assert "_request_signer._credentials" in caplog.text
    assert "presigning goes through botocore" in caplog.text


def copies_through(proxy: S3FaultProxy, dest: Place) -> list[dict[str, str]]:
    return [
        headers
        for (method, path), headers in zip(proxy.requests, proxy.headers, strict=True)
        if path.startswith(f"/{dest.bucket}/") and is_copy(method, path, headers)
    ]


def test_without_the_http_session_attribute_copies_log_an_error_and_botocore_sends_them(
    source_files, dest_factory, s3_proxy, monkeypatch: pytest.MonkeyPatch, caplog
) -> None:
    source: SourceFile = source_files(("a.fastq.gz", 100))[0]
    dest: Place = dest_factory()
    client = s3.client()  # this test's own: the proxy's endpoint
    monkeypatch.setattr(client, "_endpoint", WithoutAttribute(client._endpoint, "http_session"))

    with caplog.at_level(logging.ERROR, logger="datasharing.s3"):
        result = s3.copy_object(
            source_bucket=source.bucket,
            source_key=source.key,
            bucket=dest.bucket,
            key=dest.key("a.fastq.gz"),
            if_match=source.md5,
        )

    assert result.etag == source.md5
    (sent,) = copies_through(s3_proxy, dest)
    assert "amz-sdk-invocation-id" in sent  # sent by botocore
    assert "botocore internals changed" in caplog.text
    assert "_endpoint.http_session" in caplog.text
    assert f"every copy into {dest.bucket} goes through botocore" in caplog.text


def test_without_the_parser_factory_timestamps_are_botocore_s_and_the_change_is_logged(
    caplog,
) -> None:
    session = boto3.session.Session()
    session._session = types.SimpleNamespace()  # type: ignore[assignment]

    with caplog.at_level(logging.ERROR, logger="datasharing.s3"):
        assert not signing.set_timestamp_parser(session, clients._parse_timestamp)

    assert "botocore internals changed" in caplog.text
    assert "response_parser_factory" in caplog.text
