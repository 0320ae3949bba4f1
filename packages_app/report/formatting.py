"""Small formatting helpers shared by the report's HTML, PDF and charts (and mirrored in JS)."""

from __future__ import annotations

import datetime as dt

_UNITS = ("KiB", "MiB", "GiB", "TiB", "PiB", "EiB")


def human_size(size: int | None) -> str:
    """Binary units, as `ls -lh` and most genomics tools print them: 523 B, 8.0 KiB, 1.2 GiB."""
    if size is None:
        return ""
    if size < 1024:
        return f"{size} B"
    value = float(size)
    unit_index = 0
    value /= 1024
    while value >= 1024 and unit_index < len(_UNITS) - 1:
        value /= 1024
        unit_index += 1
    unit = _UNITS[unit_index]
    return f"{value:.1f} {unit}" if value < 100 else f"{value:.0f} {unit}"


def human_count(count: int) -> str:
    return f"{count:,}"


def utc_text(moment: dt.datetime | None) -> str:
    """`2024-10-26 02:00 UTC` (aware datetimes only; naive ones never reach the report)."""
    if moment is None:
        return ""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def plural(count: int, singular: str, plural_form: str | None = None) -> str:
    word = singular if count == 1 else (plural_form or singular + "s")
    return f"{count:,} {word}"


def snake_to_camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)
