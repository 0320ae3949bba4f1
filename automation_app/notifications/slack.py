"""The one module that talks to Slack: the Web API methods we call, and request signatures.

- `chat.postMessage`, `chat.update`, `chat.postEphemeral` (bot token, scope `chat:write`), as
  JSON bodies with `Authorization: Bearer <token>`, against `SLACK_API_URL`.
- Slack answers HTTP 200 with `{"ok": false, "error": "<code>"}` for most failures, and HTTP 429
  with `Retry-After` when rate limited. Every failure is a `SlackError` saying whether trying
  again can help; the caller (a Celery task) decides when to retry.
- Interactivity requests are signed: `X-Slack-Signature` is `v0=` + HMAC-SHA256 of
  `v0:{X-Slack-Request-Timestamp}:{raw body}` keyed with the app's signing secret.

The bot token and signing secret are never logged nor put in an error message.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass
from typing import Any

import httpx
from django.conf import settings

from datasharing.query import parse_int

# Slack's replay window for signed requests (its own SDKs use the same five minutes).
SIGNATURE_MAX_AGE_SECONDS = 300

# Slack error codes worth trying again; any other `ok: false` is permanent (bad token, unknown
# channel, malformed blocks) and retrying would only repeat it.
_RETRYABLE_ERRORS = frozenset(
    {"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"}
)


class SlackError(Exception):
    """A Slack call that failed. `retryable`: a later attempt may succeed (`retry_after` seconds,
    when Slack said how long to wait)."""

    def __init__(self, message: str, *, retryable: bool, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable
        self.retry_after = retry_after

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class SlackMessage:
    channel: str
    ts: str


def _call(method: str, body: dict[str, Any]) -> dict[str, Any]:
    token = settings.SLACK_BOT_TOKEN
    if not token:
        raise SlackError("Slack is not configured (SLACK_BOT_TOKEN is empty).", retryable=False)
    url = settings.SLACK_API_URL.rstrip("/") + "/" + method
    try:
        response = httpx.post(
            url,
            json=body,
            headers={"Authorization": f"Bearer {token}"},
            timeout=settings.SLACK_TIMEOUT,
        )
    except httpx.HTTPError as exc:
        raise SlackError(
            f"Slack unreachable ({method}): {type(exc).__name__}", retryable=True
        ) from None
    if response.status_code == 429:
        # Seconds in ASCII digits (`isdigit()` also accepts `²`, which `float()` refuses).
        retry_after = parse_int(response.headers.get("Retry-After", "").strip())
        raise SlackError(
            f"Slack rate limited {method}",
            retryable=True,
            retry_after=float(retry_after) if retry_after is not None else None,
        )
    if response.status_code >= 500:
        raise SlackError(f"Slack answered {response.status_code} to {method}", retryable=True)
    try:
        answer = response.json()
    except ValueError:
        answer = None
    if response.status_code != 200 or not isinstance(answer, dict):
        raise SlackError(
            f"Slack answered {response.status_code} to {method} without a JSON object",
            retryable=False,
        )
    if not answer.get("ok"):
        error = str(answer.get("error") or "unknown_error")[:200]
        raise SlackError(f"Slack refused {method}: {error}", retryable=error in _RETRYABLE_ERRORS)
    return answer


def slack_message_post(*, channel: str, text: str, blocks: list[dict[str, Any]]) -> SlackMessage:
    """Post a message; `text` is the notification and accessibility fallback of the blocks."""
    answer = _call(
        "chat.postMessage",
        {"channel": channel, "text": text, "blocks": blocks, "unfurl_links": False},
    )
    return SlackMessage(channel=str(answer.get("channel") or channel), ts=str(answer["ts"]))


def slack_message_update(
    *, channel: str, ts: str, text: str, blocks: list[dict[str, Any]]
) -> SlackMessage:
    """Replace the text and blocks of a message the bot posted."""
    answer = _call("chat.update", {"channel": channel, "ts": ts, "text": text, "blocks": blocks})
    return SlackMessage(channel=str(answer.get("channel") or channel), ts=str(answer.get("ts", ts)))


def slack_ephemeral_post(*, channel: str, user: str, text: str) -> None:
    """A message only `user` sees, in `channel`."""
    _call("chat.postEphemeral", {"channel": channel, "user": user, "text": text})


def slack_escape(text: str) -> str:
    """Escape text for Slack `mrkdwn` and plain text: `&`, `<` and `>` are control characters
    (`<!channel>` would notify everyone, `<http://x|y>` would make a link)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_signature(*, secret: str, timestamp: str, body: bytes) -> str:
    """The `X-Slack-Signature` value Slack sends for this request."""
    base = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def slack_request_is_authentic(*, timestamp: str, signature: str, body: bytes) -> bool:
    """True when the request was signed with SLACK_SIGNING_SECRET within the replay window.

    Missing headers, a timestamp that is not an integer or more than five minutes away from now,
    and an unset secret all make the request inauthentic."""
    secret = settings.SLACK_SIGNING_SECRET
    # ASCII digits only: `isdigit()` accepts `²`, which `int()` then refuses.
    signed_at = parse_int(timestamp, maximum=10**12)
    if not secret or signed_at is None or not signature:
        return False
    if abs(time.time() - signed_at) > SIGNATURE_MAX_AGE_SECONDS:
        return False
    expected = slack_signature(secret=secret, timestamp=timestamp, body=body)
    return hmac.compare_digest(expected.encode(), signature.encode())
