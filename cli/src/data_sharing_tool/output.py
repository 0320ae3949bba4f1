"""Human output: aligned tables, key/value blocks, sizes and times. JSON output: as the API says.

Results go to stdout; progress, warnings and errors go to stderr, so `$(data-sharing-tool ...)`
captures only the result.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TextIO

import click


def print_json(value: Any, *, file: TextIO | None = None) -> None:
    click.echo(json.dumps(value, indent=4, ensure_ascii=False), file=file or sys.stdout)


def human_bytes(value: Any) -> str:
    if not isinstance(value, int | float) or isinstance(value, bool):
        return ""
    size = float(value)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(size) < 1024 or unit == "TiB":
            return f"{int(size)} B" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} PiB"  # pragma: no cover - loop always returns


def short_time(value: Any) -> str:
    """ISO 8601 from the API, shown in UTC to the second: `2026-11-27 10:54:43Z`."""
    if not isinstance(value, str) or not value:
        return ""
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        return value
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(dt.UTC)
    return parsed.strftime("%Y-%m-%d %H:%M:%S") + ("Z" if parsed.tzinfo else "")


def cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    text = str(value)
    # One row per record: a newline or tab inside a value (an error message) would break it.
    return " ".join(text.split()) if any(ch in text for ch in "\n\r\t") else text


Column = tuple[str, Callable[[dict[str, Any]], Any]]


def print_table(rows: Sequence[dict[str, Any]], columns: Sequence[Column]) -> None:
    table = [[title for title, _ in columns]]
    table.extend([cell(extract(row)) for _, extract in columns] for row in rows)
    widths = [max(len(line[i]) for line in table) for i in range(len(columns))]
    for line in table:
        click.echo(
            "  ".join(
                value.ljust(width) for value, width in zip(line, widths, strict=True)
            ).rstrip()
        )


def print_fields(pairs: Iterable[tuple[str, Any]]) -> None:
    items = [(label, cell(value)) for label, value in pairs if value not in (None, "", [], {})]
    width = max((len(label) for label, _ in items), default=0)
    for label, value in items:
        click.echo(f"{label + ':':<{width + 1}} {value}")


def warn(message: str) -> None:
    click.echo(f"warning: {message}", err=True)


def info(message: str) -> None:
    click.echo(message, err=True)
