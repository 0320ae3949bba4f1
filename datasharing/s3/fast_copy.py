"""CopyObject and UploadPartCopy signed here and sent on botocore's own HTTP session.

botocore spends about 1 ms of CPU on each request (events, endpoint rules, signing, parsing): for
small objects, most of a push worker's CPU. FastCopy sends the same request for less than half of
that: SigV4 (`signing`) with a signing key derived once a day, on botocore's HTTP session (same
connection pool, TLS and proxy settings). It is built per destination bucket from the requests
botocore itself would send (one CopyObject and one UploadPartCopy with values that need encoding,
prepared by botocore and answered here, never sent), and used only when it reproduces their URLs,
headers and signatures byte for byte.

Only a successful copy is handled here. Any other answer (an error, S3's "200 OK" with an error
body, a connection failure) is handed to botocore as the answer to its first attempt, so parsing,
retries, backoff and exceptions are botocore's. Except a refused signature (SignatureDoesNotMatch
and the like): then botocore signs and sends that copy itself, and every later copy into the
bucket, and the refusal is logged as an error.
"""

from __future__ import annotations

import contextlib
import html
import logging
import re
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, TypeAlias
from urllib.parse import urlsplit

from botocore.awsrequest import AWSResponse
from botocore.exceptions import BotoCoreError

from datasharing.s3 import signing
from datasharing.s3.errors import S3_ERRORS
from datasharing.s3.etags import normalize_etag, quote_etag

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import CopySourceTypeDef

logger = logging.getLogger(__name__)

# What a fast request got that botocore takes as the answer to its first attempt: a response or
# the exception sending raised; None: botocore sends its own request.
Handover: TypeAlias = AWSResponse | BotoCoreError | None

# After a fast request was throttled or failed, copies go through botocore alone for this long, so
# its adaptive rate limiter paces them.
FAST_COPY_PAUSE_SECONDS = 60.0
# The server did not accept a signature made here: botocore signs the copies into that bucket.
SIGNATURE_ERROR_CODES = frozenset(
    {
        "SignatureDoesNotMatch",
        "AuthorizationHeaderMalformed",
        "IncompleteSignature",
        "InvalidAccessKeyId",
    }
)

# The requests that check the fast signer against botocore: values that need encoding in the key,
# the copy source and the upload id (opaque: stores put '+', '/' or '=' in them).
_CHECK_KEY = "datasharing-signer-check/a b+c=d&e~f(1)\u00e9.txt"
_CHECK_SOURCE = ("datasharing-signer-check", "x y+z;q~\u00e9.gz")
_CHECK_ETAG = "0123456789abcdef0123456789abcdef"
_CHECK_UPLOAD_ID = "2~Ab+c/d=e f%g.h_i-j"
_CHECK_PART = (7, 31457280, 36700159)
_CHECK_ANSWER = (
    f"<CopyObjectResult><ETag>&quot;{_CHECK_ETAG}&quot;</ETag></CopyObjectResult>".encode()
)

_COPY_RESULT_ETAG_RE = re.compile(
    rb"^(?:<\?xml[^>]*>)?\s*<CopyObjectResult\b.*?<ETag>([^<]*)</ETag>", re.S
)
_PART_RESULT_ETAG_RE = re.compile(
    rb"^(?:<\?xml[^>]*>)?\s*<CopyPartResult\b.*?<ETag>([^<]*)</ETag>", re.S
)
_ERROR_CODE_RE = re.compile(rb"<Error>.*?<Code>([^<]*)</Code>", re.S)

# This thread's part in botocore's before-send of CopyObject / UploadPartCopy: `capture` (a list:
# record the request and answer it here) or `replay` (the answer to give botocore).
_hook = threading.local()
# Per client (weakly: a client dropped from the client cache takes its FastCopies with it), per
# destination bucket; None where botocore sends the copies.
_fast_copies: weakref.WeakKeyDictionary[Any, dict[str, FastCopy | None]] = (
    weakref.WeakKeyDictionary()
)
_fast_copies_lock = threading.Lock()


def register_copy_hook(s3: S3Client) -> None:
    """Let FastCopy check its requests against this client's and hand answers over to it (done
    for every client of `clients.client()`; registering again changes nothing)."""
    for operation in ("CopyObject", "UploadPartCopy"):
        s3.meta.events.register(
            f"before-send.s3.{operation}",
            _before_send,
            unique_id=f"datasharing-fast-copy-{operation}",
        )


def _before_send(request: Any, **kwargs: Any) -> Any:
    """before-send of copies on our clients. Normally does nothing. In this thread it may capture
    the request botocore would send (answering for the server), or give botocore, as the answer to
    its first attempt, what a FastCopy request got (a response or an exception)."""
    captured = getattr(_hook, "capture", None)
    if captured is not None:
        captured.append(request)
        return signing.canned_response(request.url, 200, _CHECK_ANSWER)
    replay = getattr(_hook, "replay", None)
    if replay is None:
        return None
    _hook.replay = None
    if isinstance(replay, BaseException):
        raise replay
    return replay


@contextlib.contextmanager
def botocore_answered_by(answer: Handover) -> Iterator[None]:
    """The next copy botocore sends in this thread takes `answer` as the answer to its first
    attempt (None: botocore sends it)."""
    _hook.replay = answer
    try:
        yield
    finally:
        # Never left for the next copy of this thread (botocore may fail before sending).
        _hook.replay = None


class FastCopy:
    """CopyObject and UploadPartCopy into one bucket, signed here and sent on botocore's HTTP
    session.

    Holds botocore's credentials object (refreshable credentials stay fresh) and signing keys
    derived from it; never logged."""

    def __init__(
        self,
        *,
        bucket: str,
        url_prefix: str,
        path_prefix: str,
        host: str,
        region: str,
        service: str,
        user_agent: str,
        credentials: Any,
        http_session: Any,
    ) -> None:
        self.bucket = bucket
        self.url_prefix = url_prefix
        self.path_prefix = path_prefix
        self.host = host
        self.region = region
        self.service = service
        self.user_agent = user_agent
        self.signing_keys = signing.SigningKeyCache(region, service)
        self._credentials = credentials
        self._http_session = http_session
        self.paused_until = 0.0
        # Set once the server refused a signature made here: botocore sends every copy then.
        self.signature_refused = False

    def __repr__(self) -> str:
        return f"FastCopy({self.url_prefix!r})"

    def ready(self) -> bool:
        return not self.signature_refused and time.monotonic() >= self.paused_until

    # --- Requests --------------------------------------------------------------------------------

    def copy_request(
        self,
        *,
        source_bucket: str,
        source_key: str,
        key: str,
        if_match: str,
        acl: str,
        amz_date: str,
        credentials: Any,
    ) -> tuple[str, dict[str, str]]:
        """(URL, signed headers) of a CopyObject signed at `amz_date` with frozen `credentials`."""
        headers = _copy_source_headers(source_bucket, source_key, if_match)
        if acl:
            headers["x-amz-acl"] = acl
        return self._signed(
            key=key, params=(), headers=headers, amz_date=amz_date, credentials=credentials
        )

    def part_copy_request(
        self,
        *,
        source_bucket: str,
        source_key: str,
        key: str,
        upload_id: str,
        part: tuple[int, int, int],
        if_match: str,
        amz_date: str,
        credentials: Any,
    ) -> tuple[str, dict[str, str]]:
        """(URL, signed headers) of an UploadPartCopy of `part` (number, first byte, last byte)."""
        number, first, last = part
        headers = _copy_source_headers(source_bucket, source_key, if_match)
        headers["x-amz-copy-source-range"] = f"bytes={first}-{last}"
        return self._signed(
            key=key,
            params=(("uploadId", upload_id), ("partNumber", str(number))),
            headers=headers,
            amz_date=amz_date,
            credentials=credentials,
        )

    def _signed(
        self,
        *,
        key: str,
        params: tuple[tuple[str, str], ...],
        headers: dict[str, str],
        amz_date: str,
        credentials: Any,
    ) -> tuple[str, dict[str, str]]:
        encoded = signing.encode_key(key)
        path = self.path_prefix + encoded
        headers["x-amz-date"] = amz_date
        if credentials.token:
            headers["x-amz-security-token"] = credentials.token
        date = amz_date[:8]
        headers["host"] = self.host
        headers["authorization"] = signing.authorization_header(
            method="PUT",
            path=path,
            query=signing.canonical_query(params) if params else "",
            headers=headers,
            access_key=credentials.access_key,
            signing_key=self.signing_keys.key(credentials.secret_key, date),
            scope=signing.credential_scope(date, self.region, self.service),
            amz_date=amz_date,
        )
        del headers["host"]  # the HTTP client sends it, from the URL
        url = self.url_prefix + encoded
        if params:
            # In botocore's order (not the canonical one).
            url += "?" + "&".join(
                f"{signing.encode_query_value(name)}={signing.encode_query_value(value)}"
                for name, value in params
            )
        return url, headers

    # --- Sending ---------------------------------------------------------------------------------

    def copy(
        self, *, source_bucket: str, source_key: str, key: str, if_match: str, acl: str
    ) -> str | Handover:
        """The new object's ETag, or what botocore takes over (see `Handover`)."""
        url, headers = self.copy_request(
            source_bucket=source_bucket,
            source_key=source_key,
            key=key,
            if_match=if_match,
            acl=acl,
            amz_date=_amz_date_now(),
            credentials=self._credentials.get_frozen_credentials(),
        )
        return self._send(url, headers, _COPY_RESULT_ETAG_RE)

    def copy_part(
        self,
        *,
        source_bucket: str,
        source_key: str,
        key: str,
        upload_id: str,
        part: tuple[int, int, int],
        if_match: str,
    ) -> str | Handover:
        """The part's ETag, or what botocore takes over (see `Handover`)."""
        url, headers = self.part_copy_request(
            source_bucket=source_bucket,
            source_key=source_key,
            key=key,
            upload_id=upload_id,
            part=part,
            if_match=if_match,
            amz_date=_amz_date_now(),
            credentials=self._credentials.get_frozen_credentials(),
        )
        return self._send(url, headers, _PART_RESULT_ETAG_RE)

    def _send(self, url: str, headers: dict[str, str], result: re.Pattern[bytes]) -> str | Handover:
        headers["User-Agent"] = self.user_agent
        headers["Content-Length"] = "0"
        try:
            response = signing.send_request(
                self._http_session, method="PUT", url=url, headers=headers
            )
        except BotoCoreError as exc:
            self.paused_until = time.monotonic() + FAST_COPY_PAUSE_SECONDS
            return exc
        status = response.status_code
        if status == 200:
            match = result.match(response.content)
            if match:
                return normalize_etag(html.unescape(match.group(1).decode()))
        elif status in (400, 403) and self._refused_signature(response):
            return None
        if status == 200 or status == 429 or status >= 500:
            self.paused_until = time.monotonic() + FAST_COPY_PAUSE_SECONDS
        return response

    def _refused_signature(self, response: AWSResponse) -> bool:
        match = _ERROR_CODE_RE.search(response.content)
        code = match.group(1).decode(errors="replace") if match else ""
        if code not in SIGNATURE_ERROR_CODES:
            return False
        self.signature_refused = True
        logger.error(
            "copy: the server refused a copy into %s signed here (%s %s); botocore signs and sends "
            "it, and every later copy into %s",
            self.bucket,
            response.status_code,
            code,
            self.bucket,
        )
        return True


def _copy_source_headers(source_bucket: str, source_key: str, if_match: str) -> dict[str, str]:
    headers = {
        "x-amz-content-sha256": signing.EMPTY_PAYLOAD_SHA256,
        "x-amz-copy-source": signing.encode_key(f"{source_bucket}/{source_key}"),
    }
    if if_match:
        headers["x-amz-copy-source-if-match"] = quote_etag(if_match)
    return headers


def _amz_date_now() -> str:
    return time.strftime(signing.AMZ_DATE_FORMAT, time.gmtime())


# --- Building one per bucket, checked against botocore -------------------------------------------


def fast_copy_for(s3: S3Client, bucket: str) -> FastCopy | None:
    """The FastCopy for `bucket` with this client, None when botocore sends its copies."""
    by_bucket = _fast_copies.get(s3)
    if by_bucket is not None and bucket in by_bucket:
        return by_bucket[bucket]
    with _fast_copies_lock:
        by_bucket = _fast_copies.setdefault(s3, {})
        if bucket not in by_bucket:
            by_bucket[bucket] = build_fast_copy(s3, bucket)
        return by_bucket[bucket]


def build_fast_copy(s3: S3Client, bucket: str) -> FastCopy | None:
    """A FastCopy that sends what botocore would, checked on one CopyObject and one
    UploadPartCopy botocore prepares (and does not send: the before-send hook answers them)."""
    purpose = f"every copy into {bucket}"
    credentials = signing.client_credentials(s3, purpose=purpose)
    http_session = signing.client_http_session(s3, purpose=purpose)
    if credentials is None or http_session is None:
        return None
    register_copy_hook(s3)
    prepared = _botocore_check_requests(s3, bucket)
    if prepared is None:
        logger.warning("copy: could not prepare a check request for %s; using botocore", bucket)
        return None
    fast = _fast_copy_shaped_like(prepared[0], bucket, credentials, http_session)
    if fast is None or not _reproduces(fast, prepared, credentials.get_frozen_credentials()):
        logger.warning("copy: fast signer does not match botocore for %s; using botocore", bucket)
        return None
    return fast


def _botocore_check_requests(s3: S3Client, bucket: str) -> tuple[Any, Any] | None:
    """The CopyObject and the UploadPartCopy botocore would send for the check values."""
    captured: list[Any] = []
    number, first, last = _CHECK_PART
    source: CopySourceTypeDef = {"Bucket": _CHECK_SOURCE[0], "Key": _CHECK_SOURCE[1]}
    _hook.capture = captured
    try:
        s3.copy_object(
            Bucket=bucket,
            Key=_CHECK_KEY,
            CopySource=source,
            CopySourceIfMatch=quote_etag(_CHECK_ETAG),
            ACL="bucket-owner-full-control",
        )
        s3.upload_part_copy(
            Bucket=bucket,
            Key=_CHECK_KEY,
            UploadId=_CHECK_UPLOAD_ID,
            PartNumber=number,
            CopySource=source,
            CopySourceRange=f"bytes={first}-{last}",
            CopySourceIfMatch=quote_etag(_CHECK_ETAG),
        )
    except S3_ERRORS:
        return None
    finally:
        _hook.capture = None
    return (captured[0], captured[1]) if len(captured) == 2 else None


def _lowercase_headers(request: Any) -> dict[str, str]:
    return {
        name.lower(): value.decode() if isinstance(value, bytes) else str(value)
        for name, value in request.headers.items()
    }


def _fast_copy_shaped_like(
    request: Any, bucket: str, credentials: Any, http_session: Any
) -> FastCopy | None:
    """A FastCopy with the endpoint, scope and user agent of botocore's check CopyObject."""
    headers = _lowercase_headers(request)
    authorization = signing.parse_authorization(headers.get("authorization", ""))
    encoded = signing.encode_key(_CHECK_KEY)
    parts = urlsplit(request.url)
    if (
        authorization is None
        or parts.query
        or parts.fragment
        or not parts.path.endswith(encoded)
        or not request.url.endswith(encoded)
    ):
        return None
    return FastCopy(
        bucket=bucket,
        url_prefix=request.url[: -len(encoded)],
        path_prefix=parts.path[: -len(encoded)],
        host=signing.host_header(request.url),
        region=authorization.region,
        service=authorization.service,
        user_agent=headers.get("user-agent", ""),
        credentials=credentials,
        http_session=http_session,
    )


def _reproduces(fast: FastCopy, prepared: tuple[Any, Any], frozen: Any) -> bool:
    """Whether `fast`, signing with `frozen` credentials at botocore's time, gives exactly the
    URLs, signed headers and Authorization of botocore's check requests."""
    copy_request, part_request = prepared
    source_bucket, source_key = _CHECK_SOURCE

    def copy(amz_date: str) -> tuple[str, dict[str, str]]:
        return fast.copy_request(
            source_bucket=source_bucket,
            source_key=source_key,
            key=_CHECK_KEY,
            if_match=_CHECK_ETAG,
            acl="bucket-owner-full-control",
            amz_date=amz_date,
            credentials=frozen,
        )

    def part_copy(amz_date: str) -> tuple[str, dict[str, str]]:
        return fast.part_copy_request(
            source_bucket=source_bucket,
            source_key=source_key,
            key=_CHECK_KEY,
            upload_id=_CHECK_UPLOAD_ID,
            part=_CHECK_PART,
            if_match=_CHECK_ETAG,
            amz_date=amz_date,
            credentials=frozen,
        )

    return _signed_alike(copy_request, copy, frozen) and _signed_alike(
        part_request, part_copy, frozen
    )


def _signed_alike(
    request: Any, sign: Callable[[str], tuple[str, dict[str, str]]], frozen: Any
) -> bool:
    """Whether `sign(botocore's signing time)` gives `request`'s URL, signed headers and
    Authorization."""
    headers = _lowercase_headers(request)
    authorization = signing.parse_authorization(headers.get("authorization", ""))
    if request.method != "PUT" or authorization is None:
        return False
    if authorization.access_key != frozen.access_key:
        return False  # refreshed between botocore's signing and now
    url, ours = sign(headers.get("x-amz-date", ""))
    theirs = {
        name: headers.get(name, "") for name in authorization.signed_headers if name != "host"
    }
    theirs["authorization"] = headers["authorization"]
    return url == request.url and ours == theirs
