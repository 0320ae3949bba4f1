"""Query-string helpers shared by list endpoints: repeated keys, dates, booleans, all validated."""

import datetime as dt
from typing import Any

from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from rest_framework.exceptions import ValidationError

MAX_LIST_VALUES = 1000


def query_list(params: Any, name: str) -> list[str]:
    """`?libraryId=A&libraryId=B` and `?libraryId=A,B` both give ["A", "B"]."""
    values: list[str] = []
    for raw in params.getlist(name):
        values.extend(v.strip() for v in raw.split(",") if v.strip())
    if len(values) > MAX_LIST_VALUES:
        raise ValidationError({name: f"At most {MAX_LIST_VALUES} values."})
    return values


def query_datetime(params: Any, name: str) -> dt.datetime | None:
    """ISO 8601 date or date-time; naive values are UTC."""
    raw = params.get(name)
    if raw is None or raw == "":
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
        raise ValidationError({name: f"{raw!r} is not an ISO 8601 date or date-time."})
    if timezone.is_naive(value):
        value = value.replace(tzinfo=dt.UTC)
    try:
        # In UTC, as the database compares it (SQLite overflows on 0001-01-01T00:00+01:00).
        return value.astimezone(dt.UTC)
    except OverflowError:
        raise ValidationError({name: f"{raw!r} is out of range."}) from None


def query_bool(params: Any, name: str) -> bool | None:
    raw = params.get(name)
    if raw is None or raw == "":
        return None
    lowered = raw.lower()
    if lowered in {"true", "1", "yes"}:
        return True
    if lowered in {"false", "0", "no"}:
        return False
    raise ValidationError({name: f"{raw!r} is not a boolean (true/false)."})


def query_choices(params: Any, name: str, allowed: list[str]) -> list[str]:
    """`query_list` of upper-cased values that must be among `allowed` (400 naming the others)."""
    values = [value.upper() for value in query_list(params, name)]
    unknown = sorted(set(values) - set(allowed))
    if unknown:
        raise ValidationError(
            {name: f"Unknown {name} {', '.join(unknown)}; expected one of {', '.join(allowed)}."}
        )
    return values
