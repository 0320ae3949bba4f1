"""SigV4 for S3, and every use of botocore's internals.

One SigV4 implementation signs both the presigned GET URLs of `presign` (query-string
authentication) and the CopyObject / UploadPartCopy requests of `fast_copy` (Authorization
header). It never decides what to sign on its own: each caller builds it from a URL or a request
botocore itself prepared, and uses it only where it reproduces that URL or request byte for byte;
otherwise botocore signs. What it saves is botocore's per-request work (rebuilding the request,
deriving the signing key): signing keys are derived once per day and scope.

The second half of this module is the only code that reads attributes botocore does not document
(a client's credentials and HTTP session, a session's parser factory, temporary credentials'
expiry) or builds botocore's HTTP objects by hand. `tests/datasharing/s3/test_botocore_internals.py`
fails when a botocore upgrade changes any of them; at run time a missing one is logged as an error
and botocore does the work (slower, never wrong).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import quote, unquote, urlsplit

import botocore
from botocore.awsrequest import AWSPreparedRequest, AWSResponse, HTTPHeaders
from botocore.credentials import RefreshableCredentials

if TYPE_CHECKING:
    import boto3

logger = logging.getLogger(__name__)

ALGORITHM = "AWS4-HMAC-SHA256"
EMPTY_PAYLOAD_SHA256 = hashlib.sha256(b"").hexdigest()
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
AMZ_DATE_FORMAT = "%Y%m%dT%H%M%SZ"

_AUTHORIZATION_RE = re.compile(
    r"^AWS4-HMAC-SHA256 Credential=(?P<access_key>[^/]+)/(?P<date>\d{8})/(?P<region>[^/]+)/"
    r"(?P<service>[^/]+)/aws4_request, SignedHeaders=(?P<signed>[a-z0-9;-]+), "
    r"Signature=(?P<signature>[0-9a-f]{64})$"
)


# --- SigV4 --------------------------------------------------------------------------------------


def encode_key(key: str) -> str:
    """An object key as botocore writes it in a path and SigV4 for S3 signs it: percent-encoded
    once, '/' and '~' left as they are."""
    return quote(key, safe="/~")


def encode_query_value(value: str) -> str:
    """A query parameter name or value: everything but RFC 3986's unreserved characters encoded."""
    return quote(value, safe="-_.~")


def host_header(url: str) -> str:
    """The Host value SigV4 signs: lowercase host, port only when not the scheme's default."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    if parts.port is not None and parts.port != {"http": 80, "https": 443}.get(parts.scheme):
        host = f"{host}:{parts.port}"
    return host


def credential_scope(date: str, region: str, service: str) -> str:
    return f"{date}/{region}/{service}/aws4_request"


def derive_signing_key(secret_key: str, date: str, region: str, service: str) -> bytes:
    key = hmac.digest(f"AWS4{secret_key}".encode(), date.encode(), "sha256")
    key = hmac.digest(key, region.encode(), "sha256")
    key = hmac.digest(key, service.encode(), "sha256")
    return hmac.digest(key, b"aws4_request", "sha256")


class SigningKeyCache:
    """The signing key of one region and service, derived again only when the day or the secret
    key (refreshed credentials) changes. Safe to share between threads: the cached entry is
    replaced as a whole. Holds a secret: never logged."""

    def __init__(self, region: str, service: str) -> None:
        self.region = region
        self.service = service
        self._cached: tuple[str, str, bytes] = ("", "", b"")

    def __repr__(self) -> str:
        return f"SigningKeyCache({self.region!r}, {self.service!r})"

    def key(self, secret_key: str, date: str) -> bytes:
        cached_secret, cached_date, key = self._cached
        if cached_secret != secret_key or cached_date != date:
            key = derive_signing_key(secret_key, date, self.region, self.service)
            self._cached = (secret_key, date, key)
        return key


def string_to_sign_head(amz_date: str, scope: str) -> str:
    """The string to sign up to the canonical request's hash: the same for every request signed
    at `amz_date` in `scope`."""
    return f"{ALGORITHM}\n{amz_date}\n{scope}\n"


def canonical_request(
    method: str,
    path: str,
    query: str,
    canonical_headers: str,
    signed_headers: str,
    payload_hash: str,
) -> str:
    """`query` is already canonical (sorted, encoded); `canonical_headers` ends with a newline."""
    return f"{method}\n{path}\n{query}\n{canonical_headers}\n{signed_headers}\n{payload_hash}"


def signature(signing_key: bytes, head: str, request: str) -> str:
    """The signature of canonical request `request`, `head` being its `string_to_sign_head`."""
    digest = hashlib.sha256(request.encode()).hexdigest()
    return hmac.digest(signing_key, (head + digest).encode(), "sha256").hex()


def canonical_query(params: Iterable[tuple[str, str]]) -> str:
    """The canonical query string of request parameters: names and values encoded, then sorted."""
    return "&".join(
        f"{name}={value}"
        for name, value in sorted(
            (encode_query_value(name), encode_query_value(value)) for name, value in params
        )
    )


def authorization_header(
    *,
    method: str,
    path: str,
    query: str,
    headers: dict[str, str],
    access_key: str,
    signing_key: bytes,
    scope: str,
    amz_date: str,
) -> str:
    """The Authorization header of a request that signs all of `headers` (lowercase names, `host`
    included); its payload hash is their x-amz-content-sha256, `query` is canonical already."""
    names = sorted(headers)
    signed = ";".join(names)
    canonical_headers = "".join(f"{name}:{' '.join(headers[name].split())}\n" for name in names)
    request = canonical_request(
        method, path, query, canonical_headers, signed, headers["x-amz-content-sha256"]
    )
    value = signature(signing_key, string_to_sign_head(amz_date, scope), request)
    return f"{ALGORITHM} Credential={access_key}/{scope}, SignedHeaders={signed}, Signature={value}"


@dataclass(frozen=True)
class Authorization:
    """The parts of a SigV4 Authorization header."""

    access_key: str
    date: str
    region: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str


def parse_authorization(value: str) -> Authorization | None:
    match = _AUTHORIZATION_RE.match(value)
    if match is None:
        return None
    return Authorization(
        access_key=match["access_key"],
        date=match["date"],
        region=match["region"],
        service=match["service"],
        signed_headers=tuple(match["signed"].split(";")),
        signature=match["signature"],
    )


# --- Query-string authentication: presigned GET URLs ---------------------------------------------


class PresignedGetSigner:
    """Signs GET URLs for the keys of one bucket, as botocore's generate_presigned_url did for one
    of them: same endpoint, addressing style, credential scope, signing time and query parameters;
    only the key (and so the signature) differs. Holds a signing key: never logged."""

    def __init__(
        self,
        *,
        url_prefix: str,
        path_prefix: str,
        host: str,
        canonical_query: str,
        query_head: str,
        query_tail: str,
        string_to_sign_head: str,
        signing_key: bytes,
    ) -> None:
        self.url_prefix = url_prefix
        self.query_head = query_head
        self.query_tail = query_tail
        self.string_to_sign_head = string_to_sign_head
        self._signing_key = signing_key
        # The canonical request around the key, built once: signing a URL only joins the parts.
        around_key = canonical_request(
            "GET", "\0", canonical_query, f"host:{host}\n", "host", UNSIGNED_PAYLOAD
        )
        head, self._request_tail = around_key.split("\0")
        self._request_head = head + path_prefix

    def __repr__(self) -> str:
        return f"PresignedGetSigner({self.url_prefix!r})"

    def url(self, key: str) -> str:
        encoded = encode_key(key)
        request = self._request_head + encoded + self._request_tail
        value = signature(self._signing_key, self.string_to_sign_head, request)
        return f"{self.url_prefix}{encoded}?{self.query_head}{value}{self.query_tail}"


@dataclass(frozen=True)
class _PresignedUrlParts:
    base: str  # the URL before "?"
    path: str
    query: str
    params: dict[str, str]  # as they appear in the URL (encoded)
    scope: list[str]  # access key, date, region, service, "aws4_request"


def _presigned_url_parts(url: str, key: str) -> _PresignedUrlParts | None:
    """`url` (botocore's presigned GET of `key`) cut into its parts, or None when it is not a
    SigV4 URL signing the host header alone with `key` at the end of its path."""
    base, _, query = url.partition("?")
    encoded = encode_key(key)
    path = urlsplit(base).path
    if not query or not base.endswith(encoded) or not path.endswith(encoded):
        return None
    params = {name: value for name, _, value in (pair.partition("=") for pair in query.split("&"))}
    if (
        params.get("X-Amz-Algorithm") != ALGORITHM
        or params.get("X-Amz-SignedHeaders") != "host"
        or not params.get("X-Amz-Signature")
        or "X-Amz-Date" not in params
    ):
        return None
    scope = unquote(params.get("X-Amz-Credential", "")).split("/")
    if len(scope) != 5:
        return None
    return _PresignedUrlParts(base=base, path=path, query=query, params=params, scope=scope)


def presigned_get_signer(
    url: str, key: str, credentials: Any
) -> tuple[PresignedGetSigner, dt.datetime] | None:
    """A signer for the bucket of `url` (botocore's presigned GET of `key`, signed with the frozen
    `credentials`) and its signing time, or None when the signer would not give `url` byte for
    byte (then botocore must sign)."""
    parts = _presigned_url_parts(url, key)
    if parts is None:
        return None
    access_key, date, region, service, _ = parts.scope
    token = parts.params.get("X-Amz-Security-Token")
    if access_key != credentials.access_key or (
        (unquote(token) if token is not None else None) != credentials.token
    ):
        return None  # credentials were refreshed between reading them and botocore signing
    amz_date = parts.params["X-Amz-Date"]
    encoded = encode_key(key)
    query_head, _, query_tail = parts.query.partition(
        f"X-Amz-Signature={parts.params['X-Amz-Signature']}"
    )
    signer = PresignedGetSigner(
        url_prefix=parts.base[: len(parts.base) - len(encoded)],
        path_prefix=parts.path[: len(parts.path) - len(encoded)],
        host=host_header(parts.base),
        canonical_query="&".join(
            f"{name}={value}"
            for name, value in sorted(parts.params.items())
            if name != "X-Amz-Signature"
        ),
        query_head=query_head + "X-Amz-Signature=",
        query_tail=query_tail,
        string_to_sign_head=string_to_sign_head(amz_date, credential_scope(date, region, service)),
        signing_key=derive_signing_key(credentials.secret_key, date, region, service),
    )
    if signer.url(key) != url:
        return None
    signed_at = dt.datetime.strptime(amz_date, AMZ_DATE_FORMAT).replace(tzinfo=dt.UTC)
    return signer, signed_at


# --- botocore internals ---------------------------------------------------------------------------
#
# Only here. Each accessor returns None (or False) when botocore no longer has what it reads, and
# logs that as an error naming the attribute and what falls back to botocore.

_ABSENT = object()


def _internals_changed(what: str, fallback: str) -> None:
    logger.error(
        "botocore internals changed (%s; botocore %s): %s goes through botocore, slower. "
        "Update datasharing/s3/signing.py.",
        what,
        _botocore_version(),
        fallback,
    )


def _botocore_version() -> str:
    return str(getattr(botocore, "__version__", "?"))


def client_credentials(s3: Any, *, purpose: str) -> Any | None:
    """botocore's credentials object of a client (refreshable credentials refresh themselves in
    `get_frozen_credentials()`), or None: the client has no credentials, or botocore keeps them
    elsewhere (logged; `purpose` names what then goes through botocore)."""
    credentials = getattr(getattr(s3, "_request_signer", None), "_credentials", _ABSENT)
    if credentials is _ABSENT or (
        credentials is not None
        and not callable(getattr(credentials, "get_frozen_credentials", None))
    ):
        _internals_changed("S3 client without _request_signer._credentials", purpose)
        return None
    return credentials


def client_http_session(s3: Any, *, purpose: str) -> Any | None:
    """The HTTP session a client sends its requests on (its connection pool, TLS and proxy
    settings), or None (logged) when botocore keeps it elsewhere."""
    http_session = getattr(getattr(s3, "_endpoint", None), "http_session", None)
    if not callable(getattr(http_session, "send", None)):
        _internals_changed("S3 client without _endpoint.http_session.send", purpose)
        return None
    return http_session


def credentials_expiry(credentials: Any) -> dt.datetime | None:
    """When temporary (refreshable) credentials expire, as an aware datetime; None otherwise."""
    if not isinstance(credentials, RefreshableCredentials):
        return None
    expiry = getattr(credentials, "_expiry_time", _ABSENT)
    if expiry is _ABSENT:
        _internals_changed(
            "RefreshableCredentials without _expiry_time",
            "nothing: presigned URLs may outlive their credentials and their expiry",
        )
        return None
    if isinstance(expiry, dt.datetime):
        return expiry if expiry.tzinfo else expiry.replace(tzinfo=dt.UTC)
    return None


def set_timestamp_parser(session: boto3.session.Session, parser: Callable[[Any], Any]) -> bool:
    """Make the clients of `session` parse response timestamps with `parser`; False (logged) when
    botocore's parser factory is no longer where this reaches it."""
    try:
        factory = session._session.get_component("response_parser_factory")
        factory.set_parser_defaults(timestamp_parser=parser)
    except (AttributeError, KeyError, ValueError) as exc:
        _internals_changed(
            f"response_parser_factory: {type(exc).__name__}: {exc}", "timestamp parsing"
        )
        return False
    return True


def send_request(http_session: Any, *, method: str, url: str, headers: dict[str, str]) -> Any:
    """Send a request without a body on a client's HTTP session; the AWSResponse it got."""
    # A plain dict: the HTTP session hands headers to urllib3, which takes any mapping.
    request = AWSPreparedRequest(method, url, cast(Any, headers), None, False)
    return http_session.send(request)


class _FixedBody:
    """The raw body of a canned response, in the shape botocore reads it."""

    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **kwargs: Any) -> Iterator[bytes]:
        yield self._body


def canned_response(url: str, status: int, body: bytes) -> AWSResponse:
    """A response a before-send handler returns to botocore instead of sending the request."""
    return AWSResponse(url, status, HTTPHeaders(), _FixedBody(body))
