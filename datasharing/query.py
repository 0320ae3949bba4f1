"""The one strict parser of what clients put in query strings, path segments and headers.

Every value is checked before it reaches a query or a comparison, so nothing a client sends can
become a 500 (a NUL byte refused by Postgres, an integer SQLite cannot store, a digit `int()`
does not read):

- integers are ASCII digits only, at most 19 of them, range-checked (`int()` alone accepts
  `٣`, ` 3`, `+3` and `1_0`; `str.isdigit()` accepts `³`);
- text never holds control characters (Unicode category Cc) and has a length cap; free text
  used as a name (destinations, prefixes) also refuses format characters (category Cf: bidi
  overrides such as U+202E, zero-width spaces);
- a list parameter (`?libraryId=A&libraryId=B` or `?libraryId=A,B`) has at most
  `MAX_LIST_VALUES` values, none of them blank, each matching its pattern when it has one;
- a query key no operation reads is a 400 naming it (`query_require_known`).

Each failure is a DRF ValidationError naming the parameter: a 400 with the API's error JSON. The
OpenAPI side of the same rules (patterns, bounds) is written by `datasharing.schema`.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Collection
from typing import Any

from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from rest_framework.exceptions import ValidationError

# Values per list parameter. With at most ten list parameters per operation this also stays
# under Django's DATA_UPLOAD_MAX_NUMBER_FIELDS (1000 keys) when every value has its own key.
MAX_LIST_VALUES = 100
# Characters per query value (identifiers are shorter; free-text filters are bounded by this).
MAX_VALUE_LENGTH = 255
# The largest integer a client may send anywhere: what a signed 64-bit column holds (SQLite and
# Postgres `bigint`).
MAX_INT = 2**63 - 1
_INT_RE = re.compile(r"[0-9]{1,19}")


def parse_int(raw: str | None, *, minimum: int = 0, maximum: int = MAX_INT) -> int | None:
    """The integer `raw` spells in ASCII digits, within [minimum, maximum]; None otherwise
    (absent, blank, signs, spaces, other scripts' digits, superscripts, underscores, overflow)."""
    if raw is None or not _INT_RE.fullmatch(raw):
        return None
    value = int(raw)
    return value if minimum <= value <= maximum else None


def query_int(params: Any, name: str, *, minimum: int = 1, maximum: int = MAX_INT) -> int | None:
    """An optional integer parameter (None when absent); 400 naming it when it is not an ASCII
    integer within [minimum, maximum]."""
    raw = params.get(name)
    if raw is None:
        return None
    value = parse_int(raw, minimum=minimum, maximum=maximum)
    if value is None:
        raise ValidationError(
            {name: f"{raw[:40]!r} is not an integer between {minimum} and {maximum}."}
        )
    return value


def is_control_character(character: str) -> bool:
    """C0 and C1 controls and DEL (category Cc): never part of a name, an id or a filter."""
    return unicodedata.category(character) == "Cc"


def is_invisible_character(character: str) -> bool:
    """A control (Cc) or format character (Cf: bidi overrides and isolates such as U+202E, zero
    width spaces and joiners, soft hyphens, BOM): it makes a name look like another."""
    return unicodedata.category(character) in ("Cc", "Cf")


def text_invisible_characters(value: str) -> list[str]:
    """The control and format characters in `value`, as `U+202E` code points (for messages)."""
    found = sorted({ch for ch in value if is_invisible_character(ch)})
    return [f"U+{ord(ch):04X}" for ch in found]


def _format_character_ranges() -> list[tuple[int, int]]:
    """Ranges of category Cf in the Basic Multilingual Plane."""
    ranges: list[tuple[int, int]] = []
    for code in range(0x10000):
        if unicodedata.category(chr(code)) != "Cf":
            continue
        if ranges and ranges[-1][1] == code - 1:
            ranges[-1] = (ranges[-1][0], code)
        else:
            ranges.append((code, code))
    return ranges


def _class_range(first: int, last: int) -> str:
    return f"\\u{first:04x}" if first == last else f"\\u{first:04x}-\\u{last:04x}"


# Character classes for the patterns the OpenAPI document states, in the `\\uXXXX` escapes that
# both Python and JSON Schema (ECMA-262) validators read. They name the format characters of the
# Basic Multilingual Plane only (ECMA has no common escape for the others); the runtime checks
# (`is_invisible_character`) refuse every Cf character.
CONTROL_CLASS = "\\u0000-\\u001f\\u007f-\\u009f"
INVISIBLE_CLASS = CONTROL_CLASS + "".join(
    _class_range(first, last) for first, last in _format_character_ranges()
)
# A free-text query value: no controls, no comma (the list separator).
QUERY_TEXT_RE = re.compile(f"^[^,{CONTROL_CLASS}]+$")


def public_id_re(prefix: str) -> re.Pattern[str]:
    """A public id as `datasharing.ids.normalize_id` reads it: `pkg.<ULID>` or the bare ULID,
    in either case."""
    return re.compile(f"^(?:{re.escape(prefix)}\\.)?[0-9A-HJKMNP-TV-Za-hjkmnp-tv-z]{{26}}$")


def _clean_value(name: str, value: str, pattern: re.Pattern[str] | None, max_length: int) -> str:
    if not value:
        raise ValidationError({name: "Empty value: leave the parameter out instead."})
    if any(is_control_character(ch) for ch in value):
        raise ValidationError({name: "Values must not contain control characters."})
    if len(value) > max_length:
        raise ValidationError({name: f"Values are at most {max_length} characters."})
    if pattern is not None and not pattern.fullmatch(value):
        raise ValidationError({name: f"{value[:60]!r} is not valid here."})
    return value


def query_list(
    params: Any,
    name: str,
    *,
    pattern: re.Pattern[str] | None = None,
    max_length: int = MAX_VALUE_LENGTH,
) -> list[str]:
    """`?libraryId=A&libraryId=B` and `?libraryId=A,B` both give ["A", "B"].

    400 naming the parameter for a blank value (`?status=`, `A,,B`), a control character, a
    value longer than `max_length` or not matching `pattern`, or more than MAX_LIST_VALUES."""
    values: list[str] = []
    for raw in params.getlist(name):
        values.extend(_clean_value(name, v, pattern, max_length) for v in raw.split(","))
    if len(values) > MAX_LIST_VALUES:
        raise ValidationError({name: f"At most {MAX_LIST_VALUES} values."})
    return values


def query_text(params: Any, name: str, *, max_length: int = 1024) -> str:
    """An optional single text value ("" when absent); no blank value, no control characters."""
    raw = params.get(name)
    if raw is None:
        return ""
    return _clean_value(name, raw, None, max_length)


def query_datetime(params: Any, name: str) -> dt.datetime | None:
    """ISO 8601 date or date-time; naive values are UTC."""
    raw = params.get(name)
    if raw is None:
        return None
    value = None
    try:
        value = parse_datetime(raw)
        if value is None:
            day = parse_date(raw)
            if day is not None:
                value = dt.datetime.combine(day, dt.time())
    except ValueError:
        value = None
    if value is None:
        raise ValidationError({name: f"{raw[:60]!r} is not an ISO 8601 date or date-time."})
    if timezone.is_naive(value):
        value = value.replace(tzinfo=dt.UTC)
    try:
        # In UTC, as the database compares it (SQLite overflows on 0001-01-01T00:00+01:00).
        return value.astimezone(dt.UTC)
    except OverflowError:
        raise ValidationError({name: f"{raw!r} is out of range."}) from None


TRUE_VALUES = ("true", "1", "yes")
FALSE_VALUES = ("false", "0", "no")


def query_bool(params: Any, name: str) -> bool | None:
    raw = params.get(name)
    if raw is None:
        return None
    lowered = raw.lower()
    if lowered in TRUE_VALUES:
        return True
    if lowered in FALSE_VALUES:
        return False
    raise ValidationError({name: f"{raw[:40]!r} is not a boolean (true/false)."})


def query_choices(
    params: Any, name: str, allowed: list[str], *, case_sensitive: bool = False
) -> list[str]:
    """`query_list` of values that must be among `allowed` (upper-cased first unless
    `case_sensitive`: statuses may be written `failed`); 400 naming the others."""
    values = query_list(params, name)
    if not case_sensitive:
        values = [value.upper() for value in values]
    unknown = sorted(set(values) - set(allowed))
    if unknown:
        raise ValidationError(
            {
                name: f"Unknown {name} {', '.join(v[:40] for v in unknown[:10])}; expected one "
                f"of {', '.join(allowed)}."
            }
        )
    return values


def query_choice(params: Any, name: str, allowed: list[str], *, default: str) -> str:
    """One value among `allowed` (`default` when absent); blank or other values are a 400."""
    raw = params.get(name)
    if raw is None:
        return default
    if raw not in allowed:
        raise ValidationError({name: f"{raw[:40]!r} is not one of {', '.join(allowed)}."})
    return str(raw)


def query_require_known(params: Any, known: Collection[str]) -> None:
    """400 naming every query key the operation does not read (a misspelt filter would
    otherwise be ignored and the whole list returned)."""
    unknown = sorted(key for key in params if key not in known)
    if unknown:
        shown = ", ".join(repr(key[:40]) for key in unknown[:20])
        expected = ", ".join(sorted(known)) or "none"
        raise ValidationError(
            {"query": f"Unknown query parameter(s) {shown}; this operation reads: {expected}."}
        )
