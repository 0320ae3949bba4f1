"""LIMS and workflow manifests: read and validate, locally.

The service's `manage.py generate_package` and the CLI's `generate-package` both read manifests
with this module, so a file means the same package in both. Every problem names the file, the
line (as an editor shows it: the header is line 1, so data row N is line N + 1) and the column.
All problems of a file are reported at once, up to `MAX_ERRORS`.

The manifests are exports of the LIMS and workflow "mart" tables (the columns of
`data_sharing_formats.columns`, which the catalog importers read). Only the columns a package
request uses are required; the other mart columns are optional and type-checked when present;
other columns are ignored with a warning. Header names are case-insensitive.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from data_sharing_formats.columns import (
    LIMS_COLUMNS,
    LIMS_OPTIONAL_COLUMNS,
    WORKFLOW_COLUMNS,
    WORKFLOW_OPTIONAL_COLUMNS,
)
from data_sharing_formats.identifiers import (
    IDENTIFIER_RE,
    INSTRUMENT_RUN_ID_RE,
    PORTAL_RUN_ID_RE,
    WORKFLOW_NAME_RE,
    base_library_id,
)

MAX_ERRORS = 50
MAX_FIELD_CHARS = 10_000

LIMS_REQUIRED = ("library_id",)
# The short manifests `make run` writes for users name the subject `subject_id`.
LIMS_OPTIONAL = (
    *(c for c in (*LIMS_COLUMNS, *LIMS_OPTIONAL_COLUMNS) if c not in LIMS_REQUIRED),
    "subject_id",
)
WORKFLOW_REQUIRED = ("portal_run_id", "library_id")
WORKFLOW_OPTIONAL = tuple(
    c for c in (*WORKFLOW_COLUMNS, *WORKFLOW_OPTIONAL_COLUMNS) if c not in WORKFLOW_REQUIRED
)


@dataclass(frozen=True)
class ManifestProblem:
    file: str
    line: int | None
    column: str | None
    message: str

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f", line {self.line}"
            if self.line > 1:
                where += f" (row {self.line - 1})"
        if self.column:
            where += f", column {self.column!r}"
        return f"{where}: {self.message}"


class ManifestError(Exception):
    """One or more problems in a manifest; nothing was sent."""

    def __init__(self, problems: list[ManifestProblem]) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


class _Problems:
    def __init__(self, file: str) -> None:
        self.file = file
        self.items: list[ManifestProblem] = []

    def add(self, line: int | None, column: str | None, message: str) -> None:
        if len(self.items) < MAX_ERRORS:
            self.items.append(ManifestProblem(self.file, line, column, message))
        elif len(self.items) == MAX_ERRORS:
            self.items.append(
                ManifestProblem(self.file, None, None, f"more than {MAX_ERRORS} problems; stopped")
            )

    def raise_if_any(self) -> None:
        if self.items:
            raise ManifestError(self.items)

    @property
    def full(self) -> bool:
        return len(self.items) > MAX_ERRORS


@dataclass(frozen=True)
class _Row:
    line: int
    values: dict[str, str]

    def get(self, column: str) -> str:
        return self.values.get(column, "").strip()


def _read_rows(
    path: Path,
    *,
    required: tuple[str, ...],
    optional: tuple[str, ...],
    problems: _Problems,
    warnings: list[str],
) -> Iterator[_Row]:
    """Check the header, then yield non-blank rows; structural problems go to `problems`."""
    try:
        content = path.read_bytes()
    except FileNotFoundError:
        problems.add(None, None, "file not found")
        return
    except OSError as exc:
        problems.add(None, None, f"cannot read the file: {exc.strerror or exc}")
        return
    if not content.strip():
        problems.add(1, None, "the file is empty")
        return
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        problems.add(content[: exc.start].count(b"\n") + 1, None, "the file is not UTF-8 text")
        return
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader)
    except csv.Error as exc:
        problems.add(1, None, f"bad CSV: {exc}")
        return
    columns = [name.strip().lower() for name in header]
    missing = [name for name in required if name not in columns]
    for name in missing:
        problems.add(1, name, "required column is missing")
    duplicates = sorted({name for name in columns if columns.count(name) > 1})
    for name in duplicates:
        problems.add(1, name, "column appears more than once")
    if missing or duplicates:
        return
    unknown = [name for name in columns if name and name not in required + optional]
    if unknown:
        warnings.append(f"{problems.file}: ignoring unknown column(s): {', '.join(unknown)}")
    rows = 0
    while not problems.full:
        line = reader.line_num + 1
        try:
            record = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            problems.add(line, None, f"bad CSV: {exc}")
            return
        if not any(value.strip() for value in record):
            continue
        rows += 1
        if len(record) != len(columns):
            problems.add(line, None, f"expected {len(columns)} fields, found {len(record)}")
            continue
        values: dict[str, str] = {}
        for name, value in zip(columns, record, strict=True):
            if len(value) > MAX_FIELD_CHARS or any(ord(ch) < 32 and ch != "\t" for ch in value):
                problems.add(line, name, "value is too long or contains control characters")
            values[name] = value
        yield _Row(line=line, values=values)
    if rows == 0 and not problems.items:
        problems.add(2, None, "the file has a header but no rows")


def _parse_date(value: str) -> dt.date:
    return dt.date.fromisoformat(value[:10])


def _parse_datetime(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value)


def _parse_non_negative_number(value: str) -> float:
    number = float(value)
    if not number >= 0:  # also refuses NaN
        raise ValueError(value)
    return number


def _check_typed(
    row: _Row,
    column: str,
    parse: Callable[[str], Any],
    what: str,
    problems: _Problems,
) -> None:
    value = row.get(column)
    if not value:
        return
    try:
        parse(value)
    except (ValueError, OverflowError):
        problems.add(row.line, column, f"{value!r} is not a valid {what}")


def _check_pattern(
    row: _Row,
    column: str,
    pattern: re.Pattern[str],
    what: str,
    problems: _Problems,
    *,
    required: bool,
) -> str:
    value = row.get(column)
    if not value:
        if required:
            problems.add(row.line, column, "a value is required")
        return ""
    if not pattern.fullmatch(value):
        problems.add(row.line, column, f"{value!r} is not a valid {what}")
        return ""
    return value


@dataclass
class LimsManifest:
    path: Path
    library_ids: list[str]  # base ids (topup/rerun suffixes removed), first-seen order
    instrument_run_ids: list[str]
    row_count: int
    warnings: list[str] = field(default_factory=list)


@dataclass
class WorkflowManifest:
    path: Path
    portal_run_ids: list[str]
    library_ids: list[str]
    row_count: int
    warnings: list[str] = field(default_factory=list)


def read_lims_manifest(path: Path) -> LimsManifest:
    problems = _Problems(str(path))
    warnings: list[str] = []
    library_ids: dict[str, None] = {}
    run_ids: dict[str, None] = {}
    rows_without_run: list[int] = []
    rows_with_run = 0
    row_count = 0
    for row in _read_rows(
        path, required=LIMS_REQUIRED, optional=LIMS_OPTIONAL, problems=problems, warnings=warnings
    ):
        row_count += 1
        library_id = _check_pattern(
            row, "library_id", IDENTIFIER_RE, "library id", problems, required=True
        )
        if library_id:
            library_ids[base_library_id(library_id)] = None
        if "sequencing_run_id" in row.values:
            run_id = _check_pattern(
                row,
                "sequencing_run_id",
                INSTRUMENT_RUN_ID_RE,
                "instrument run id",
                problems,
                required=False,
            )
            if run_id:
                run_ids[run_id] = None
                rows_with_run += 1
            elif not row.get("sequencing_run_id"):
                rows_without_run.append(row.line)
        _check_typed(row, "sequencing_run_date", _parse_date, "date (YYYY-MM-DD)", problems)
        _check_typed(row, "load_datetime", _parse_datetime, "date-time", problems)
        _check_typed(row, "coverage", _parse_non_negative_number, "non-negative number", problems)
    if rows_with_run and rows_without_run:
        # One instrument run list restricts every library: a row without a run cannot say
        # "all runs for this one" (the predecessor sent an empty value and failed later).
        for line in rows_without_run:
            problems.add(
                line,
                "sequencing_run_id",
                "a value is required when other rows name a run (the runs restrict the FASTQs "
                "of every library); fill it in, or remove the column to share FASTQs of all runs",
            )
    problems.raise_if_any()
    return LimsManifest(
        path=path,
        library_ids=list(library_ids),
        instrument_run_ids=list(run_ids),
        row_count=row_count,
        warnings=warnings,
    )


def read_workflow_manifest(path: Path, *, lims: LimsManifest) -> WorkflowManifest:
    problems = _Problems(str(path))
    warnings: list[str] = []
    portal_run_ids: dict[str, None] = {}
    library_ids: dict[str, None] = {}
    known_libraries = set(lims.library_ids)
    warned_runs: set[str] = set()
    row_count = 0
    for row in _read_rows(
        path,
        required=WORKFLOW_REQUIRED,
        optional=WORKFLOW_OPTIONAL,
        problems=problems,
        warnings=warnings,
    ):
        row_count += 1
        portal_run_id = _check_pattern(
            row,
            "portal_run_id",
            PORTAL_RUN_ID_RE,
            "portal run id (YYYYMMDD + 8 lower-case hex characters)",
            problems,
            required=True,
        )
        if portal_run_id:
            portal_run_ids[portal_run_id] = None
        library_id = _check_pattern(
            row, "library_id", IDENTIFIER_RE, "library id", problems, required=True
        )
        if library_id:
            base = base_library_id(library_id)
            library_ids[base] = None
            if base not in known_libraries:
                problems.add(
                    row.line,
                    "library_id",
                    f"library {library_id!r} is not in the LIMS manifest {lims.path}",
                )
        _check_pattern(
            row, "workflow_name", WORKFLOW_NAME_RE, "workflow name", problems, required=False
        )
        _check_typed(row, "workflow_start", _parse_datetime, "date-time", problems)
        _check_typed(row, "workflow_end", _parse_datetime, "date-time", problems)
        _check_typed(
            row, "workflow_duration", _parse_non_negative_number, "number of seconds", problems
        )
        status = row.get("workflow_status").upper()
        if (
            portal_run_id
            and status
            and status not in ("SUCCEEDED", "SUCCESS", "COMPLETE")
            and portal_run_id not in warned_runs
        ):
            warned_runs.add(portal_run_id)
            warnings.append(
                f"{path}, line {row.line}: portal run {portal_run_id} has status {status}; "
                "it is packaged as listed"
            )
    problems.raise_if_any()
    return WorkflowManifest(
        path=path,
        portal_run_ids=list(portal_run_ids),
        library_ids=list(library_ids),
        row_count=row_count,
        warnings=warnings,
    )
