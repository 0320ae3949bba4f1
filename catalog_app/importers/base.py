"""What every importer shares: the result counts, the set-based upsert and the value checks."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any, TypeVar

from data_sharing_formats.identifiers import IDENTIFIER_RE
from django.db import models
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from catalog_app.models import Library
from datasharing.csvfile import RecordValues

M = TypeVar("M", bound=models.Model)
BATCH = 1000


@dataclass
class ImportResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    extra: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, int]:
        return {
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            **self.extra,
        }

    def count(self, outcome: str) -> None:
        setattr(self, outcome, getattr(self, outcome) + 1)


def at_line(line: int | None) -> str:
    """`line 4: ` before a message about a record read from a file; nothing otherwise."""
    return f"line {line}: " if line is not None else ""


def identifier(
    row: RecordValues,
    column: str,
    *,
    required: bool = True,
    pattern: re.Pattern[str] = IDENTIFIER_RE,
) -> str:
    value = row.required(column) if required else row.get(column)
    if value and not pattern.fullmatch(value):
        raise row.error(column, f"{value!r} is not a valid identifier")
    return value


def to_date(value: str) -> dt.date:
    parsed = parse_date(value[:10]) if len(value) >= 10 else None
    if parsed is None:
        raise ValueError(value)
    return parsed


def to_datetime(value: str) -> dt.datetime:
    """An ISO date-time (`T` or a space between date and time; naive means UTC) or a date."""
    parsed = (
        parse_datetime(value.replace(" ", "T", 1)) if "T" not in value else parse_datetime(value)
    )
    if parsed is None:
        parsed_date = parse_date(value)
        if parsed_date is None:
            raise ValueError(value)
        parsed = dt.datetime.combine(parsed_date, dt.time())
    if timezone.is_naive(parsed):
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed


def upsert(
    model: type[M],
    key_field: str,
    desired: dict[str, dict[str, Any]],
) -> tuple[dict[str, M], set[str], set[str]]:
    """Make rows keyed by `key_field` hold `desired` values.

    Returns (rows by key, keys created, keys updated). Three queries plus batches.
    """
    if not desired:
        return {}, set(), set()
    existing: dict[str, M] = {
        getattr(obj, key_field): obj
        for obj in model._default_manager.filter(**{f"{key_field}__in": list(desired)})
    }
    to_create: list[M] = []
    to_update: list[M] = []
    update_fields: set[str] = set()
    updated: set[str] = set()
    for key, values in desired.items():
        obj = existing.get(key)
        if obj is None:
            to_create.append(model(**{key_field: key}, **values))
            continue
        changed = [name for name, value in values.items() if getattr(obj, name) != value]
        if changed:
            for name in changed:
                setattr(obj, name, values[name])
            update_fields.update(changed)
            to_update.append(obj)
            updated.add(key)
    if to_create:
        model._default_manager.bulk_create(to_create, batch_size=BATCH)
        # Re-read so every row has its primary key on every database backend.
        for obj in model._default_manager.filter(
            **{f"{key_field}__in": [getattr(o, key_field) for o in to_create]}
        ):
            existing[getattr(obj, key_field)] = obj
    if to_update:
        model._default_manager.bulk_update(to_update, sorted(update_fields), batch_size=BATCH)
    return existing, {getattr(o, key_field) for o in to_create}, updated


def libraries_ensure(library_ids: set[str]) -> int:
    """Create the libraries the catalog does not know yet (their LIMS metadata follows with the
    next LIMS import); returns how many were created."""
    known = set(
        Library.objects.filter(library_id__in=library_ids).values_list("library_id", flat=True)
    )
    missing = sorted(library_ids - known)
    Library.objects.bulk_create([Library(library_id=lib) for lib in missing], ignore_conflicts=True)
    return len(missing)
