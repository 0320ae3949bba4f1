"""Reading CSV uploads with errors that name the line and column.

Line numbers are those a user sees in an editor: the header is line 1, the first row line 2.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from datasharing.errors import DomainError

T = TypeVar("T")
MAX_FIELD_CHARS = 10_000


class CsvRowError(DomainError):
    """A bad value: `details` holds `line`, `column` and the reason."""

    def __init__(self, message: str, *, line: int, column: str | None) -> None:
        where = f"line {line}" + (f", column {column!r}" if column else "")
        super().__init__(
            f"{where}: {message}", details={"line": line, "column": column, "reason": message}
        )
        self.line = line
        self.column = column


@dataclass
class RecordValues:
    """One record's text values by field name (a file's row, or the fields of an event) and the
    checks importers apply to them. `error` says where a bad value is: this base names the field;
    a file row names its line and column (`CsvRow`), an event the field's path in the event."""

    values: Mapping[str, str]
    line: int | None = None  # in the file the record came from, if any

    def __post_init__(self) -> None:
        for column, value in self.values.items():
            if len(value) > MAX_FIELD_CHARS or any(ord(ch) < 32 and ch not in "\t" for ch in value):
                raise self.error(column, "value is too long or contains control characters")

    def get(self, column: str) -> str:
        return (self.values.get(column) or "").strip()

    def error(self, column: str | None, message: str) -> DomainError:
        return DomainError(f"{column}: {message}" if column else message)

    def required(self, column: str) -> str:
        value = self.get(column)
        if not value:
            raise self.error(column, "value is required")
        return value

    def parsed(self, column: str, parse: Callable[[str], T], *, what: str) -> T | None:
        """Parse a column's value (None when empty); a bad value names where it is."""
        raw = self.get(column)
        if not raw:
            return None
        try:
            return parse(raw)
        except (ValueError, TypeError, OverflowError):
            raise self.error(column, f"{raw!r} is not a valid {what}") from None


@dataclass
class CsvRow(RecordValues):
    line: int = 0

    def error(self, column: str | None, message: str) -> CsvRowError:
        return CsvRowError(message, line=self.line, column=column)


def decode_upload(content: bytes, *, name: str = "file") -> str:
    if not content.strip():
        raise DomainError(f"{name} is empty.", details={"line": 1, "column": None})
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = content[: exc.start].count(b"\n") + 1
        raise CsvRowError("file is not UTF-8 text", line=line, column=None) from None


def read_csv(
    text: str,
    *,
    required: list[str] | tuple[str, ...],
    optional: list[str] | tuple[str, ...] = (),
    name: str = "file",
    allow_unknown: bool = False,
) -> Iterator[CsvRow]:
    """Validate the header, then yield rows with their line numbers.

    Unknown columns are an error (a typo in a header would otherwise silently drop data) unless
    `allow_unknown`. A file with a header and no rows is an error too.
    """
    if not text.strip():
        raise DomainError(f"{name} is empty.", details={"line": 1, "column": None})
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except csv.Error as exc:
        raise CsvRowError(str(exc), line=1, column=None) from None
    columns = [h.strip() for h in header]
    missing = [c for c in required if c not in columns]
    if missing:
        raise CsvRowError(
            f"missing required column(s): {', '.join(missing)}", line=1, column=missing[0]
        )
    known = set(required) | set(optional)
    unknown = [c for c in columns if c not in known]
    if unknown and not allow_unknown:
        raise CsvRowError(f"unknown column(s): {', '.join(unknown)}", line=1, column=unknown[0])
    duplicates = sorted({c for c in columns if columns.count(c) > 1})
    if duplicates:
        raise CsvRowError(
            f"duplicate column(s): {', '.join(duplicates)}", line=1, column=duplicates[0]
        )
    rows = 0
    while True:
        line = reader.line_num + 1
        try:
            record = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            raise CsvRowError(str(exc), line=line, column=None) from None
        if not any(field.strip() for field in record):
            continue
        if len(record) != len(columns):
            raise CsvRowError(
                f"expected {len(columns)} fields, found {len(record)}", line=line, column=None
            )
        values: dict[str, Any] = dict(zip(columns, record, strict=True))
        rows += 1
        yield CsvRow(line=line, values=values)  # checks every value
    if rows == 0:
        raise DomainError(f"{name} has a header but no rows.", details={"line": 2, "column": None})
