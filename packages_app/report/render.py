"""Render a report to HTML (self-contained, interactive) and to PDF (WeasyPrint).

The templates run in the report's own template engine, so they can use their filters without
touching the project's template settings, and autoescaping is always on. The HTML's tables travel
as a JSON data island (escaped for <script>); the page's JavaScript writes them with textContent.
"""

from __future__ import annotations

import functools
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.template import Context, Engine
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

from packages_app.report.charts import report_charts
from packages_app.report.content import ARCHIVED, RESTORING, Column, ReportContent, Table
from packages_app.report.formatting import human_size, utc_text

logger = logging.getLogger(__name__)

ASSETS = Path(__file__).resolve().parent / "assets"
TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
BREAKDOWN_LIMIT = 50
# JSON inside <script> must not be able to close the element or open a comment.
_SCRIPT_ESCAPES = {ord("<"): "\\u003C", ord(">"): "\\u003E", ord("&"): "\\u0026"}


@functools.cache
def _engine() -> Engine:
    return Engine(
        dirs=[str(TEMPLATES)],
        libraries={"report_tags": "packages_app.report.template_tags"},
        autoescape=True,
    )


@functools.cache
def _asset(name: str) -> SafeString:
    text = (ASSETS / name).read_text(encoding="utf-8")
    # Our own files, inlined verbatim: they must not be able to end their element early.
    if "</script" in text.lower() or "</style" in text.lower():
        raise ValueError(f"report asset {name} contains a closing script/style tag")
    return mark_safe(text)  # noqa: S308 -- repository file, checked above


def _json_script(value: Any, element_id: str) -> SafeString:
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False).translate(_SCRIPT_ESCAPES)
    return format_html(
        '<script id="{}" type="application/json">{}</script>',
        element_id,
        mark_safe(text),  # noqa: S308 -- JSON with <, > and & escaped as \\u sequences
    )


def _common_context(content: ReportContent) -> dict[str, Any]:
    charts = report_charts(content)
    return {
        "c": content,
        "totals": content.totals,
        # Each breakdown table is shown with its chart; the per-library chart stands alone.
        "sections": [
            {"breakdown": breakdown, "chart": charts.get(breakdown.key)}
            for breakdown in content.breakdowns
        ],
        "library_chart": charts.get("library"),
        "request_time": utc_text(content.request_time),
        "completion_time": utc_text(content.completion_time),
        "expires_at": utc_text(content.expires_at),
        "generated_at": utc_text(content.generated_at),
        "breakdown_limit": BREAKDOWN_LIMIT,
    }


def report_html_render(content: ReportContent) -> str:
    """The interactive, self-contained HTML report (no external reference of any kind)."""
    data = {
        "packageId": content.package_id,
        "packageName": content.package_name,
        "tables": [table.as_json() for table in content.tables],
    }
    context = {
        **_common_context(content),
        "css": _asset("report.css"),
        "js": _asset("report.js"),
        "report_data_script": _json_script(data, "report-data"),
        "pdf": False,
    }
    return _engine().get_template("report/report.html").render(_template_context(context))


# --- PDF ----------------------------------------------------------------------------------------


@dataclass
class PdfTable:
    title: str
    description: str
    headers: list[tuple[str, str]]
    rows: list[list[tuple[str, str]]]
    total: int
    noun_plural: str
    widths: list[float] = field(default_factory=list)  # column widths in mm (fixed layout)

    @property
    def truncated(self) -> bool:
        return len(self.rows) < self.total


def _pdf_cell(column: Column, value: Any) -> tuple[str, str]:
    """(text, css class) of one PDF table cell."""
    if value is None or value == "":
        return "", ""
    if column.kind == "bytes":
        return human_size(int(value)), "num"
    if column.kind == "int":
        return (f"{value:,}" if column.key != "lane" else str(value)), "num"
    if column.kind == "path":
        return str(value), "path"
    if column.kind == "state":
        return str(value), f"state-{value}"
    if column.kind == "status":
        upper = str(value).upper()
        css = (
            "status-ok"
            if upper == "SUCCEEDED"
            else "status-bad"
            if upper in {"FAILED", "ABORTED"}
            else ""
        )
        return str(value), css
    text = str(value)
    return text, "wrap" if len(text) > 40 else ""


# PDF table geometry: A4 landscape text width, cell padding, DejaVu Sans at 6.6pt for text
# (advance widths in em below; 1 em = 6.6 pt = 2.33 mm) and DejaVu Sans Mono at 6.1pt for paths.
_PAGE_WIDTH_MM = 273.0
_CELL_PADDING_MM = 2.6
_EM_MM = 6.6 * 0.3528
_MONO_CHAR_MM = 6.1 * 0.3528 * 0.602
_MIN_PATH_MM = 60.0
_WRAP_FROM_MM = 24.0
_SANS_EM = {
    **dict.fromkeys("0123456789", 0.636),
    **dict.fromkeys("abdeghnopqu", 0.63),
    **dict.fromkeys("ckvxyz", 0.59),
    **dict.fromkeys("fijlrt", 0.40),
    "m": 0.974,
    "w": 0.818,
    "s": 0.521,
    **dict.fromkeys("ABCDEFGHIJKLMNOPQRSTUVWXYZ", 0.74),
    "M": 0.863,
    "W": 0.989,
    "I": 0.295,
    **dict.fromkeys(" .,:;!|'/", 0.34),
    **dict.fromkeys("-()[]", 0.40),
    "_": 0.5,
}


def _text_mm(text: str) -> float:
    return sum(_SANS_EM.get(ch, 0.7) for ch in text) * _EM_MM


def _column_widths(
    headers: list[tuple[str, str]], rows: list[list[tuple[str, str]]]
) -> list[float]:
    """Column widths (mm) that fit each column's widest cell; paths take the room left and wrap.

    WeasyPrint's automatic table layout measures every cell's minimum width, which takes
    seconds for a few hundred rows; a fixed layout with these widths takes a fraction of that.
    """
    needs = []
    for position, (label, css) in enumerate(headers):
        if css == "path":
            longest = max((len(row[position][0]) for row in rows), default=0)
            needs.append(longest * _MONO_CHAR_MM + _CELL_PADDING_MM)
            continue
        # Archive states are bold; the 8% covers kerning and rounding.
        bold = 1.12 if any(row[position][1].startswith("state-") for row in rows) else 1.0
        widest = max((_text_mm(row[position][0][:60]) for row in rows), default=0.0) * 1.08 * bold
        # A header may wrap onto two lines, but not in the middle of a word.
        header = max(_text_mm(word) * 1.1 for word in label.split()) if label else 0.0
        needs.append(max(widest, header, 6.0) + _CELL_PADDING_MM)
    paths = [position for position, (_label, css) in enumerate(headers) if css == "path"]
    room = _PAGE_WIDTH_MM - sum(need for i, need in enumerate(needs) if i not in paths)
    if paths and room >= _MIN_PATH_MM * len(paths):
        # Paths get all the room left (they wrap when longer); other columns keep their width.
        wanted = sum(needs[i] for i in paths)
        for position in paths:
            needs[position] = max(room * needs[position] / wanted, _MIN_PATH_MM)
        return [round(need, 2) for need in needs]
    for position in paths:
        needs[position] = min(needs[position], _MIN_PATH_MM)
    excess = sum(needs) - _PAGE_WIDTH_MM
    if excess > 0:
        # Still too wide: long text columns wrap too; short ones (codes, numbers) never do.
        slack = {i: need - _WRAP_FROM_MM for i, need in enumerate(needs) if need > _WRAP_FROM_MM}
        total_slack = sum(slack.values()) or 1.0
        for position, spare in slack.items():
            needs[position] -= min(spare, excess * spare / total_slack)
    total = sum(needs) or 1.0
    # Absolute lengths: WeasyPrint resolves percentages again for every cell.
    return [round(_PAGE_WIDTH_MM * need / total, 2) for need in needs]


def _pdf_plural(noun: str) -> str:
    return noun[:-1] + "ies" if noun.endswith("y") else noun + "s"


def _pdf_table(table: Table, *, max_rows: int, positions: list[int] | None = None) -> PdfTable:
    positions = positions if positions is not None else table.pdf_columns()
    columns = [table.columns[position] for position in positions]
    headers = [
        (
            column.label,
            "num" if column.kind in {"int", "bytes"} else "path" if column.kind == "path" else "",
        )
        for column in columns
    ]
    rows = [
        [_pdf_cell(table.columns[position], row[position]) for position in positions]
        for row in table.rows[:max_rows]
    ]
    return PdfTable(
        table.title,
        table.description,
        headers,
        rows,
        len(table.rows),
        _pdf_plural(table.noun),
        _column_widths(headers, rows),
    )


def _archived_table(content: ReportContent, *, max_rows: int) -> PdfTable | None:
    """Every file still archived, across FASTQs and secondary files (the tables may be cut)."""
    rows: list[list[tuple[str, str]]] = []
    total = 0
    for key in ("fastqs", "files"):
        table = content.table(key)
        path, size, storage_class, state = (
            table.index("relative_path"),
            table.index("bytes"),
            table.index("storage_class"),
            table.index("archive_state"),
        )
        for row in table.rows:
            if row[state] not in (ARCHIVED, RESTORING):
                continue
            total += 1
            if len(rows) < max_rows:
                rows.append(
                    [
                        (str(row[path]), "path"),
                        (str(row[storage_class]), ""),
                        (str(row[state]), f"state-{row[state]}"),
                        (human_size(int(row[size])), "num"),
                        (f"{int(row[size]):,}", "num"),
                    ]
                )
    if not total:
        return None
    headers = [
        ("Relative path", "path"),
        ("Storage class", ""),
        ("Archive", ""),
        ("Size", "num"),
        ("Bytes", "num"),
    ]
    return PdfTable(
        "Archived files", "", headers, rows, total, "archived files", _column_widths(headers, rows)
    )


def _css_string(text: str) -> SafeString:
    """`text` as a CSS string literal body: everything but letters and digits hex-escaped."""
    return mark_safe(  # noqa: S308 -- only [A-Za-z0-9 ] and CSS hex escapes remain
        "".join(
            ch if ch.isascii() and (ch.isalnum() or ch == " ") else f"\\{ord(ch):06x}"
            for ch in text
        )
    )


def _refuse_fetch(url: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
    # The report has no external resources; fetching anything would be a bug or an injection.
    raise ValueError(f"the report PDF does not fetch {url!r}")


def share_rows(lengths: list[int], budget: int) -> list[int]:
    """Rows each table may show when all together may show `budget`: short tables in full,
    the rest an equal share of what is left (water-filling)."""
    shares = [0] * len(lengths)
    remaining = max(budget, 0)
    order = sorted(range(len(lengths)), key=lambda index: lengths[index])
    for position, index in enumerate(order):
        fair = remaining // (len(order) - position)
        shares[index] = min(lengths[index], fair)
        remaining -= shares[index]
    return shares


def report_pdf_render(content: ReportContent, *, max_rows: int | None = None) -> bytes:
    """The PDF report: the same summary and tables laid out for print.

    Its tables list at most `max_rows` rows together (REPORT_PDF_MAX_ROWS): a short table is
    listed in full, longer ones are cut to an equal share of the rest, saying so. WeasyPrint
    lays out roughly a thousand table cells per second, so this keeps any package's PDF to
    seconds; the HTML report lists every row.
    """
    import weasyprint  # heavy import (pango, cairo): only where PDFs are made

    budget = settings.REPORT_PDF_MAX_ROWS if max_rows is None else max_rows
    archived_rows, *table_rows = share_rows(
        [content.totals.not_restored_files, *(len(table.rows) for table in content.tables)], budget
    )
    archived = _archived_table(content, max_rows=archived_rows)
    context = {
        **_common_context(content),
        "css": _asset("pdf.css"),
        "pdf": True,
        "archived_table": archived,
        "pdf_tables": [
            _pdf_table(table, max_rows=rows)
            for table, rows in zip(content.tables, table_rows, strict=True)
        ],
        "footer_text": _css_string(f"{content.pdf_name} · {content.package_id}"),
    }
    html = _engine().get_template("report/report_pdf.html").render(_template_context(context))
    document = weasyprint.HTML(string=html, url_fetcher=_refuse_fetch)
    return bytes(document.write_pdf())


def _template_context(values: dict[str, Any]) -> Context:
    return Context(values, autoescape=True)
