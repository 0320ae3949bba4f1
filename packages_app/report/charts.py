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
    layout = _BarLayout(
        label_width=label_width,
        bar_area=_WIDTH - label_width - _VALUE_WIDTH,
        largest=max((sum(values) for _label, values in bars), default=0) or 1,
    )
    parts = [
        f'<svg class="chart" viewBox="0 0 {_WIDTH} {height}" width="{_WIDTH}" height="{height}" '
        f'role="img" aria-label="{escape(title)}" font-size="11" '
        'font-family="-apple-system, Segoe UI, Roboto, Helvetica, Arial, sans-serif">'
    ]
    if legend:
        parts.extend(_legend(series, label_width))
    for index, (label, values) in enumerate(bars):
        parts.extend(
            _bar(
                label,
                values,
                y=top + index * _ROW,
                layout=layout,
                series=series,
                value_text=value_text,
                with_details=legend,
            )
        )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 -- every interpolated label is escaped


@dataclass(frozen=True)
class _BarLayout:
    label_width: int  # labels end here, bars start here
    bar_area: int  # width of the longest bar
    largest: int  # the value the longest bar shows


def _legend(series: Sequence[Series], label_width: int) -> list[str]:
    parts = []
    legend_x = float(label_width)
    for item in series:
        parts.append(
            f'<rect x="{legend_x:.0f}" y="6" width="10" height="10" rx="2" fill="{item.color}"/>'
            f'<text x="{legend_x + 14:.0f}" y="15" fill="#444">{escape(item.label)}</text>'
        )
        legend_x += 24 + 6.5 * len(item.label)
    return parts


def _bar(
    label: str,
    values: Sequence[int],
    *,
    y: int,
    layout: _BarLayout,
    series: Sequence[Series],
    value_text: Callable[[int], str],
    with_details: bool,
) -> list[str]:
    """One bar: its tooltip, label, a segment per series and its total after it."""
    total = sum(values)
    details = ", ".join(
        f"{item.label}: {value_text(value)}"
        for item, value in zip(series, values, strict=False)
        if value
    )
    parts = [f"<g><title>{escape(label)}: {escape(value_text(total))}"]
    if with_details and details:
        parts.append(f" ({escape(details)})")
    parts.append("</title>")
    parts.append(
        f'<text x="{layout.label_width - 8}" y="{y + _BAR - 2}" text-anchor="end" fill="#222">'
        f"{escape(_truncate(label))}</text>"
    )
    x = float(layout.label_width)
    for item, value in zip(series, values, strict=False):
        if value <= 0:
            continue
        width = max(layout.bar_area * value / layout.largest, 1.5)
        parts.append(
            f'<rect x="{x:.1f}" y="{y + 1}" width="{width:.1f}" height="{_BAR}" '
            f'rx="2" fill="{item.color}"/>'
        )
        x += width
    parts.append(
        f'<text x="{x + 6:.1f}" y="{y + _BAR - 2}" fill="#555">{escape(value_text(total))}</text>'
    )
    parts.append("</g>")
    return parts


_READABLE_AND_ARCHIVED = (
    Series("readable", READABLE_COLOR),
    Series("archived, not restored", ARCHIVED_COLOR),
)
_SIZE = (Series("size", READABLE_COLOR),)


def report_charts(content: ReportContent, *, max_bars: int = 25) -> dict[str, Chart]:
    """The summary's charts by key (data_type, project, run, workflow, library); charts with
    nothing to show are left out."""
    charts = [
        _data_type_chart(content),
        _project_chart(content, max_bars=max_bars),
        _run_chart(content, max_bars=max_bars),
        _workflow_chart(content, max_bars=max_bars),
        _library_chart(content, max_bars=max_bars),
    ]
    return {chart.key: chart for chart in charts if chart is not None}


def _data_type_chart(content: ReportContent) -> Chart | None:
    data_types = content.breakdown("data_type").rows
    if not data_types:
        return None
    return Chart(
        "data_type",
        "Size by data type",
        bar_chart(
            title="Size by data type",
            bars=[(row.label, [row.size]) for row in data_types],
            series=_SIZE,
            value_text=human_size,
        ),
    )


def _largest_breakdown_chart(
    content: ReportContent, *, key: str, title: str, noun: str, max_bars: int
) -> Chart | None:
    """Size per row of a breakdown (rows with files only), the `max_bars` largest."""
    rows = [row for row in content.breakdown(key).rows if row.files]
    if not rows:
        return None
    shown = sorted(rows, key=lambda row: (-row.size, row.label))[:max_bars]
    return Chart(
        key,
        title,
        bar_chart(
            title=title,
            bars=[(row.label, [row.size]) for row in shown],
            series=_SIZE,
            value_text=human_size,
        ),
        note=_more_note(len(rows), len(shown), noun),
    )


def _project_chart(content: ReportContent, *, max_bars: int) -> Chart | None:
    return _largest_breakdown_chart(
        content, key="project", title="Size per project", noun="projects", max_bars=max_bars
    )


def _workflow_chart(content: ReportContent, *, max_bars: int) -> Chart | None:
    return _largest_breakdown_chart(
        content,
        key="workflow",
        title="Secondary-analysis size per workflow",
        noun="workflows",
        max_bars=max_bars,
    )


def _run_chart(content: ReportContent, *, max_bars: int) -> Chart | None:
    if not content.run_files:
        return None
    runs = sorted(content.run_files, key=lambda run: (-run.total_files, run.instrument_run_id))
    return Chart(
        "run",
        "FASTQ files per instrument run",
        bar_chart(
            title="FASTQ files per instrument run",
            bars=[
                (run.instrument_run_id, [run.readable_files, run.archived_files])
                for run in runs[:max_bars]
            ],
            series=_READABLE_AND_ARCHIVED,
            value_text=human_count,
        ),
        note=_more_note(len(runs), min(len(runs), max_bars), "runs"),
    )


def _library_chart(content: ReportContent, *, max_bars: int) -> Chart | None:
    """FASTQ size of the largest libraries (content lists them largest first)."""
    libraries = content.library_fastq_bytes
    if not libraries:
        return None
    shown = libraries[:max_bars]
    rest = libraries[max_bars:]
    note = ""
    if rest:
        note = (
            f"The {len(shown)} largest of {len(libraries):,} libraries; "
            f"the other {len(rest):,} hold {human_size(sum(item.total_bytes for item in rest))}."
        )
    return Chart(
        "library",
        "FASTQ size per library",
        bar_chart(
            title="FASTQ size per library",
            bars=[
                (library.library_id, [library.readable_bytes, library.archived_bytes])
                for library in shown
            ],
            series=_READABLE_AND_ARCHIVED,
            value_text=human_size,
        ),
        note=note,
    )


def _more_note(total: int, shown: int, noun: str) -> str:
    return f"The {shown} largest of {total:,} {noun}." if total > shown else ""
