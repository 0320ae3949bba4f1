"""What an S3 failure means: not found, worth retrying, or a refusal."""

from __future__ import annotations

from botocore.exceptions import BotoCoreError, ClientError

S3_ERRORS = (ClientError, BotoCoreError)

_TRANSIENT_CODES = frozenset(
    {
        "SlowDown",
        "Throttling",
        "ThrottlingException",
        "RequestTimeout",
        "RequestTimeoutException",
        "InternalError",
        "ServiceUnavailable",
        "503",
        "500",
    }
)

# Error codes worth another attempt: throttling, server-side failures and timeouts.
RETRYABLE_ERROR_CODES = frozenset(
    {
        "SlowDown",
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottled",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "RequestTimeout",
        "RequestTimeTooSkewed",
        "InternalError",
        "ServiceUnavailable",
        "500",
        "502",
        "503",
        "504",
    }
)


def error_code(exc: BaseException) -> str:
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", ""))
    return type(exc).__name__


def is_not_found(exc: BaseException) -> bool:
    return error_code(exc) in {"404", "NoSuchKey", "NotFound", "NoSuchBucket"}


def is_transient(exc: BaseException) -> bool:
    """Worth retrying later: connection problems, timeouts, throttling and 5xx answers (after the
    client's own retries). Refusals (403, 404, 405, invalid state ...) are not."""
    if isinstance(exc, BotoCoreError):
        return True
    if isinstance(exc, ClientError):
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
        return int(status) >= 500 or error_code(exc) in _TRANSIENT_CODES
    return False


def is_retryable(exc: BaseException) -> bool:
    """Throttling, 5xx and connection failures: the same request may succeed later."""
    if isinstance(exc, ClientError):
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
        return error_code(exc) in RETRYABLE_ERROR_CODES or status == 429 or status >= 500
    return isinstance(exc, BotoCoreError)
