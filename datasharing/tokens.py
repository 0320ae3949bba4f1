"""API tokens: made, checked and revoked here (the model stores digests only).

`api_token_create` returns the token text once; nothing can show it again. Checking a presented
token hashes it and looks the digest up, so the database never holds a usable credential.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from django.contrib.auth.models import User
from django.utils import timezone

from datasharing.errors import DomainError
from datasharing.models import ApiToken

TOKEN_PREFIX = "dsk_"  # noqa: S105 - a marker that tells tokens apart, not a secret
# A token's last use is written at most this often (not on every request).
LAST_USED_RESOLUTION = dt.timedelta(minutes=1)
MAX_TOKEN_CHARS = 200


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def api_token_create(
    *, user: User, name: str = "", expires_at: dt.datetime | None = None
) -> tuple[ApiToken, str]:
    """A new token for `user`: the row, and the token text (shown once)."""
    if expires_at is not None and expires_at <= timezone.now():
        raise DomainError("A token's expiry must be in the future.")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken.objects.create(
        user=user,
        name=name[:100],
        key_prefix=token[:12],
        key_digest=token_digest(token),
        expires_at=expires_at,
    )
    return row, token


def api_token_find(*, token: str) -> ApiToken | None:
    """The active token row for the presented text, or None (unknown, revoked or expired)."""
    if not token or len(token) > MAX_TOKEN_CHARS:
        return None
    row = ApiToken.objects.select_related("user").filter(key_digest=token_digest(token)).first()
    if row is None or not row.is_active:
        return None
    now = timezone.now()
    if row.last_used_at is None or now - row.last_used_at >= LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=row.pk).update(last_used_at=now)
    return row


def api_token_revoke(*, api_token: ApiToken) -> bool:
    """Revoke a token (once); False when it was revoked already."""
    return bool(
        ApiToken.objects.filter(pk=api_token.pk, revoked_at__isnull=True).update(
            revoked_at=timezone.now()
        )
    )
