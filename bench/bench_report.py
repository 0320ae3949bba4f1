"""Package report for 5,000 libraries: HTML and PDF render times, sizes, SQL queries, and how the
HTML behaves in Chromium (load, first table, sort, filter).

The package is synthetic (written straight into the database): 5,000 libraries, 20,000 FASTQs
(2 lanes x R1/R2), 2,500 tumor-normal analyses with 8 files each (20,000 secondary files);
every 9th library's FASTQs in DEEP_ARCHIVE.

Run: .venv/bin/python -m bench.bench_report
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from bench import harness

LIBRARIES = 5_000
CHROMIUM = "/usr/bin/chromium"


def browser_figures(html_path: Path) -> list[str]:
    """Open the report in headless Chromium and time what a reviewer does first."""
    from playwright.sync_api import sync_playwright

    lines = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        page = browser.new_page(viewport={"width": 1440, "height": 900})
        started = time.perf_counter()
        page.goto(html_path.as_uri(), wait_until="load")
        loaded = time.perf_counter() - started
        timings = page.evaluate(
            """() => {
              const report = window.datasharingReport;
              const t0 = performance.now();
              report.show("fastqs");
              const t1 = performance.now();
              const view = report.views.fastqs;
              const bytes = view.columns.findIndex(c => c.key === "bytes");
              view.sortBy(bytes);
              const t2 = performance.now();
              view.query = "L2401234";
              view.refresh();
              const t3 = performance.now();
              view.query = "";
              view.setArchivedOnly(true);
              const t4 = performance.now();
              report.show("files");
              const t5 = performance.now();
              return {firstTable: t1 - t0, sort: t2 - t1, filterFirst: t3 - t2,
                      archived: t4 - t3, secondTable: t5 - t4, matches: view.view.length,
                      heapMb: performance.memory ? performance.memory.usedJSHeapSize / 1048576 : 0};
            }"""
        )
        browser.close()
    lines.append(
        f"- Chromium (headless, file://): page load {loaded:.2f} s; FASTQ tab (20,000 rows) "
        f"{timings['firstTable']:.0f} ms; sort by bytes {timings['sort']:.0f} ms; first "
        f"text filter {timings['filterFirst']:.0f} ms; archived-only filter "
        f"{timings['archived']:.0f} ms ({timings['matches']:,} rows); secondary files tab "
        f"{timings['secondTable']:.0f} ms; JS heap {timings['heapMb']:.0f} MB"
    )
    return lines


def main() -> None:
    # Our own database: other benchmarks may run beside this one.
    os.environ.setdefault(
        "DATABASE_URL", "postgres://postgres@127.0.0.1:5432/datasharing_bench_report"
    )
    harness.setup(s3=True)
    from django.conf import settings
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from datasharing import s3
    from packages_app.report.artifacts import package_artifacts_write
    from packages_app.report.content import report_content_build
    from packages_app.report.formatting import human_size
    from packages_app.report.render import report_html_render, report_pdf_render
    from tests.packages_app.report.builders import make_synthetic_package

    started = time.perf_counter()
    package = make_synthetic_package(libraries=LIBRARIES)
    built = time.perf_counter() - started
    lines = [
        f"- package: {package.library_count:,} libraries, {package.fastq_count:,} FASTQs, "
        f"{package.workflow_run_count:,} analyses, {package.file_count:,} files, "
        f"{human_size(package.total_bytes)}, {package.archived_file_count:,} archived "
        f"(written in {built:.1f} s)"
    ]

    with CaptureQueriesContext(connection) as queries:
        report_content_build(package=package)
    content_time, content = harness.timed(lambda: report_content_build(package=package))
    lines.append(
        f"- reading the frozen contents: {content_time:.2f} s, {len(queries.captured_queries)} SQL queries"
    )
    html_time, html = harness.timed(lambda: report_html_render(content))
    lines.append(
        f"- HTML: {html_time:.2f} s to render, {human_size(len(html.encode()))} "
        f"(self-contained; every row of every table)"
    )
    pdf_time, pdf = harness.timed(lambda: report_pdf_render(content), repeat=2)
    from io import BytesIO

    from pypdf import PdfReader

    pages = len(PdfReader(BytesIO(pdf)).pages)
    lines.append(
        f"- PDF: {pdf_time:.2f} s to render, {pages} pages, {human_size(len(pdf))} "
        f"(tables cut at REPORT_PDF_MAX_ROWS={settings.REPORT_PDF_MAX_ROWS} rows, saying so)"
    )
    artifacts_time, _ = harness.timed(lambda: package_artifacts_write(package=package), repeat=1)
    lines.append(
        f"- package_artifacts_write (manifest, checksums, HTML, PDF, uploads to SeaweedFS): "
        f"{artifacts_time:.2f} s"
    )
    assert s3.head_object(settings.ARTIFACT_BUCKET, package.report_html_key) is not None

    if Path(CHROMIUM).exists():
        with tempfile.TemporaryDirectory() as folder:
            html_path = Path(folder) / "SummaryReport.synthetic.html"
            html_path.write_text(html, encoding="utf-8")
            lines.extend(browser_figures(html_path))
    else:
        lines.append("- Chromium not installed: browser figures skipped")
    harness.report("report", lines)


if __name__ == "__main__":
    main()
