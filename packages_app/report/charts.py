"""Inline SVG bar charts for the report (no library, no network: plain SVG text).

Every label is escaped here; the result is marked safe for the templates. The same SVG works in
browsers and in WeasyPrint.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from packages_app.report.content import ReportContent
from packages_app.report.formatting import human_count, human_size

READABLE_COLOR = "#3767c8"
ARCHIVED_COLOR = "#e0881c"

_WIDTH = 600
_VALUE_WIDTH = 70
_ROW = 21
_BAR = 13
_CHAR_WIDTH = 7.0  # generous width of an 11px sans-serif character (digits, capitals)
_MAX_LABEL_CHARS = 32


@dataclass(frozen=True)
class Series:
    label: str
    color: str


@dataclass(frozen=True)
class Chart:
    key: str
    title: str
    svg: SafeString
    note: str = ""


def _truncate(label: str) -> str:
    return label if len(label) <= _MAX_LABEL_CHARS else label[: _MAX_LABEL_CHARS - 1] + "…"


def bar_chart(
    *,
    title: str,
    bars: Sequence[tuple[str, Sequence[int]]],
    series: Sequence[Series],
    value_text: Callable[[int], str],
) -> SafeString:
    """Horizontal bars, one per (label, values per series), stacked in `series` order."""
    legend = len(series) > 1
    top = 26 if legend else 6
    height = top + _ROW * len(bars) + 6
    longest = max((len(_truncate(label)) for label, _values in bars), default=4)
    label_width = int(min(max(longest * _CHAR_WIDTH + 14, 70), _MAX_LABEL_CHARS * _CHAR_WIDTH + 14))
    bar_area = _WIDTH - label_width - _VALUE_WIDTH
    largest = max((sum(values) for _label, values in bars), default=0) or 1
    parts = [
        f'<svg class="chart" viewBox="0 0 {_WIDTH} {height}" width="{_WIDTH}" height="{height}" '
        f'role="img" aria-label="{escape(title)}" font-size="11" '
        'font-family="-apple-system, Segoe UI, Roboto, Helvetica, Arial, sans-serif">'
    ]
    if legend:
        legend_x = float(label_width)
        for item in series:
            parts.append(
                f'<rect x="{legend_x:.0f}" y="6" width="10" height="10" rx="2" fill="{item.color}"/>'
                f'<text x="{legend_x + 14:.0f}" y="15" fill="#444">{escape(item.label)}</text>'
            )
            legend_x += 24 + 6.5 * len(item.label)
    for index, (label, values) in enumerate(bars):
        y = top + index * _ROW
        total = sum(values)
        details = ", ".join(
            f"{item.label}: {value_text(value)}"
            for item, value in zip(series, values, strict=False)
            if value
        )
        parts.append(f"<g><title>{escape(label)}: {escape(value_text(total))}")
        if legend and details:
            parts.append(f" ({escape(details)})")
        parts.append("</title>")
        parts.append(
            f'<text x="{label_width - 8}" y="{y + _BAR - 2}" text-anchor="end" fill="#222">'
            f"{escape(_truncate(label))}</text>"
        )
        x = float(label_width)
        for item, value in zip(series, values, strict=False):
            if value <= 0:
                continue
            width = max(bar_area * value / largest, 1.5)
            parts.append(
                f'<rect x="{x:.1f}" y="{y + 1}" width="{width:.1f}" height="{_BAR}" '
                f'rx="2" fill="{item.color}"/>'
            )
            x += width
        parts.append(
            f'<text x="{x + 6:.1f}" y="{y + _BAR - 2}" fill="#555">{escape(value_text(total))}</text>'
        )
        parts.append("</g>")
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 -- every interpolated label is escaped above


def report_charts(content: ReportContent, *, max_bars: int = 25) -> dict[str, Chart]:
    """The summary's charts by key (data_type, project, run, workflow, library); charts with
    nothing to show are left out."""
    charts: list[Chart] = []
    both = (Series("readable", READABLE_COLOR), Series("archived, not restored", ARCHIVED_COLOR))
    single = (Series("size", READABLE_COLOR),)

    data_types = content.breakdown("data_type").rows
    if data_types:
        charts.append(
            Chart(
                "data_type",
                "Size by data type",
                bar_chart(
                    title="Size by data type",
                    bars=[(row.label, [row.size]) for row in data_types],
                    series=single,
                    value_text=human_size,
                ),
            )
        )
    projects = [row for row in content.breakdown("project").rows if row.files]
    if projects:
        shown = sorted(projects, key=lambda row: (-row.size, row.label))[:max_bars]
        charts.append(
            Chart(
                "project",
                "Size per project",
                bar_chart(
                    title="Size per project",
                    bars=[(row.label, [row.size]) for row in shown],
                    series=single,
                    value_text=human_size,
                ),
                note=_more_note(len(projects), len(shown), "projects"),
            )
        )
    if content.run_files:
        shown_runs = sorted(content.run_files, key=lambda item: (-(item[1] + item[2]), item[0]))
        charts.append(
            Chart(
                "run",
                "FASTQ files per instrument run",
                bar_chart(
                    title="FASTQ files per instrument run",
                    bars=[
                        (run, [readable, archived])
                        for run, readable, archived in shown_runs[:max_bars]
                    ],
                    series=both,
                    value_text=human_count,
                ),
                note=_more_note(len(shown_runs), min(len(shown_runs), max_bars), "runs"),
            )
        )
    workflows = [row for row in content.breakdown("workflow").rows if row.files]
    if workflows:
        shown = sorted(workflows, key=lambda row: (-row.size, row.label))[:max_bars]
        charts.append(
            Chart(
                "workflow",
                "Secondary-analysis size per workflow",
                bar_chart(
                    title="Secondary-analysis size per workflow",
                    bars=[(row.label, [row.size]) for row in shown],
                    series=single,
                    value_text=human_size,
                ),
                note=_more_note(len(workflows), len(shown), "workflows"),
            )
        )
    libraries = content.library_fastq_bytes
    if libraries:
        shown_libraries = libraries[:max_bars]
        rest = libraries[max_bars:]
        note = ""
        if rest:
            rest_bytes = sum(readable + archived for _id, readable, archived in rest)
            note = (
                f"The {len(shown_libraries)} largest of {len(libraries):,} libraries; "
                f"the other {len(rest):,} hold {human_size(rest_bytes)}."
            )
        charts.append(
            Chart(
                "library",
                "FASTQ size per library",
                bar_chart(
                    title="FASTQ size per library",
                    bars=[
                        (library_id, [readable, archived])
                        for library_id, readable, archived in shown_libraries
                    ],
                    series=both,
                    value_text=human_size,
                ),
                note=note,
            )
        )
    return {chart.key: chart for chart in charts}


def _more_note(total: int, shown: int, noun: str) -> str:
    return f"The {shown} largest of {total:,} {noun}." if total > shown else ""
