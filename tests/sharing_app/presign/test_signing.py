"""`s3.presigned_get_urls`: the local SigV4 signer gives botocore's URLs byte for byte, and the
S3 server (signature checking on) accepts them."""

from __future__ import annotations

import datetime as dt
import os
import urllib.error
from collections.abc import Iterator
from typing import Any
from unittest import mock

import boto3
import botocore.auth
import pytest
from botocore.config import Config
from botocore.credentials import Credentials, RefreshableCredentials

from datasharing import s3
from datasharing.ids import new_id
from datasharing.s3 import presign, signing
from tests.sharing_app.presign.helpers import fetch, shared_bucket

# Naive UTC, as botocore's clock returns it.
FIXED_NOW = dt.datetime(2025, 3, 4, 5, 6, 7, tzinfo=dt.UTC).replace(tzinfo=None)

KEYS = [
    "fastq/241024_A00130_0336_BHW7MVDSXC/Lane_1/L2401544/L2401544_S1_L001_R1_001.fastq.gz",
    "a b/c+d=e&f~g'h(i)*j!k@l$m,n;o:p?q#r[s]t/u%v.txt",
    "r\u00e9sum\u00e9/\u6587\u4ef6/\U0001f9ec.bam",
    "double//slash/and trailing space ",
    "-leading-dash",
    "x" * 900,
]


@pytest.fixture
def frozen_clock() -> Iterator[None]:
    with mock.patch.object(botocore.auth, "get_current_datetime", return_value=FIXED_NOW):
        yield


def make_client(
    *,
    endpoint_url: str | None,
    region: str,
    token: str | None = None,
    addressing_style: str | None = None,
) -> Any:
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
            s3={"addressing_style": addressing_style or ("path" if endpoint_url else "auto")},
        ),
    )


def botocore_urls(client: Any, objects: list[tuple[str, str]], expires_in: int) -> list[str]:
    return [
        client.generate_presigned_url(
            "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=expires_in
        )
        for bucket, key in objects
    ]


@pytest.mark.parametrize(
    ("endpoint_url", "region", "token", "addressing_style"),
    [
        ("http://127.0.0.1:8333", "us-east-1", None, None),
        ("https://s3.example.org", "ap-southeast-2", None, None),
        ("http://[::1]:9000", "eu-west-1", None, None),
        (None, "us-east-1", None, None),
        (None, "ap-southeast-2", None, None),
        (None, "ap-southeast-2", "FwoGZXIvYXdzEXAMPLE//token+with/slashes==", None),
        (None, "eu-central-1", None, "virtual"),
        (None, "us-west-2", None, "path"),
    ],
)
def test_local_signer_matches_botocore_byte_for_byte(
    frozen_clock: None,
    monkeypatch: pytest.MonkeyPatch,
    endpoint_url: str | None,
    region: str,
    token: str | None,
    addressing_style: str | None,
) -> None:
    client = make_client(
        endpoint_url=endpoint_url, region=region, token=token, addressing_style=addressing_style
    )
    monkeypatch.setattr(presign, "presign_client", lambda: client)
    objects = [
        (bucket, key)
        for bucket in ("facility-primary", "facility.dotted.bucket", "analysis-123")
        for key in KEYS
    ]

    result = s3.presigned_get_urls(objects, expires_in=3600)

    assert result.signer == "sigv4"
    assert result.urls == botocore_urls(client, objects, 3600)
    assert result.signed_at == FIXED_NOW.replace(tzinfo=dt.UTC)
    assert result.expires_at == result.signed_at + dt.timedelta(hours=1)


def test_a_signer_that_disagrees_with_botocore_falls_back_to_botocore(
    frozen_clock: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = make_client(endpoint_url="http://127.0.0.1:8333", region="us-east-1")
    monkeypatch.setattr(presign, "presign_client", lambda: client)
    monkeypatch.setattr(
        signing.PresignedGetSigner, "url", lambda self, key: "https://wrong.example/"
    )
    objects = [("facility-primary", key) for key in KEYS]

    result = s3.presigned_get_urls(objects, expires_in=600)

    assert result.signer == "botocore"
    assert result.urls == botocore_urls(client, objects, 600)


def test_temporary_credentials_cap_the_stated_expiry(monkeypatch: pytest.MonkeyPatch) -> None:
    client = make_client(endpoint_url="http://127.0.0.1:8333", region="us-east-1")
    credentials_expiry = dt.datetime.now(dt.UTC) + dt.timedelta(hours=2)
    refreshable = RefreshableCredentials(
        access_key="ASIAEXAMPLE",
        secret_key="secret",
        token="session-token",
        expiry_time=credentials_expiry,
        refresh_using=lambda: {},
        method="test",
    )
    monkeypatch.setattr(client._request_signer, "_credentials", refreshable)
    monkeypatch.setattr(presign, "presign_client", lambda: client)

    result = s3.presigned_get_urls([("facility-primary", KEYS[0])], expires_in=7 * 24 * 3600)

    assert result.expires_at == credentials_expiry
    assert result.credentials_expire_at == credentials_expiry
    assert "X-Amz-Security-Token=session-token" in result.urls[0]
    assert result.signer == "sigv4"


@pytest.mark.parametrize("expires_in", [0, -5, 7 * 24 * 3600 + 1])
def test_expiry_outside_sigv4_limits_is_refused(expires_in: int) -> None:
    with pytest.raises(ValueError, match="expires_in must be between 1 and 604800"):
        s3.presigned_get_urls([("facility-primary", "k")], expires_in=expires_in)


def test_server_with_signature_checking_accepts_local_signatures_and_refuses_forged_ones() -> None:
    buckets = [shared_bucket("presign-sign-a"), shared_bucket("presign-sign-b")]
    prefix = new_id("sig")
    objects = [(bucket, f"{prefix}/{key}") for bucket in buckets for key in KEYS[:5]]
    for bucket, key in objects:
        s3.put_object(bucket, key, f"{bucket}/{key}".encode())

    result = s3.presigned_get_urls(objects, expires_in=300)

    assert result.signer == "sigv4"
    for (bucket, key), url in zip(objects, result.urls, strict=True):
        assert fetch(url) == f"{bucket}/{key}".encode()
    forged = result.urls[0][:-8] + ("0" * 8 if not result.urls[0].endswith("0" * 8) else "1" * 8)
    with pytest.raises(urllib.error.HTTPError) as refused:
        fetch(forged)
    assert refused.value.code == 403
    wrong_secret = boto3.session.Session(
        aws_access_key_id=os.environ["AWS_ACCESS_KEY_ID"], aws_secret_access_key="not-the-secret"
    ).client(
        "s3",
        endpoint_url=os.environ["AWS_ENDPOINT_URL_S3"],
        config=Config(region_name="us-east-1", signature_version="s3v4"),
    )
    with mock.patch.object(presign, "presign_client", return_value=wrong_secret):
        other = s3.presigned_get_urls(objects[:1], expires_in=300)
    assert other.signer == "sigv4"
    with pytest.raises(urllib.error.HTTPError) as wrong:
        fetch(other.urls[0])
    assert wrong.value.code == 403


def test_presign_credentials_setting_signs_with_those_credentials(
    settings: Any, frozen_clock: None
) -> None:
    settings.PRESIGN_AWS_ACCESS_KEY_ID = "AKIDPRESIGNONLY"
    settings.PRESIGN_AWS_SECRET_ACCESS_KEY = "presign-secret"

    result = s3.presigned_get_urls([("facility-primary", KEYS[0])], expires_in=60)

    assert "X-Amz-Credential=AKIDPRESIGNONLY%2F20250304%2F" in result.urls[0]
    reference = make_client(endpoint_url=settings.AWS_ENDPOINT_URL_S3, region=settings.AWS_REGION)
    reference._request_signer._credentials = Credentials("AKIDPRESIGNONLY", "presign-secret")
    assert result.urls == botocore_urls(reference, [("facility-primary", KEYS[0])], 60)
