"""Public ids: `<prefix>.<26-char ULID>`, e.g. `pkg.01JD5V7Q3S8K2M4N6P8R0T2V4X`."""

import re

from ulid import ULID

from datasharing.errors import NotFound

_ULID_RE = re.compile(r"^[0-9A-HJKMNP-TV-Z]{26}$")


def new_id(prefix: str) -> str:
    return f"{prefix}.{ULID()}"


def normalize_id(value: str, *, prefix: str) -> str:
    """Accept `prefix.ULID` or a bare ULID; raise a 404-class error for anything else.

    An id of the wrong kind (a `psh.` id where a package is expected) is unknown, not malformed.
    """
    raw = value.strip()
    if raw.startswith(f"{prefix}."):
        raw = raw[len(prefix) + 1 :]
    raw = raw.upper()
    if not _ULID_RE.fullmatch(raw):
        raise NotFound(f"No {prefix} with id {value!r}.")
    return f"{prefix}.{raw}"
