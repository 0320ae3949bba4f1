"""The HTML report in a real browser (Debian Chromium through Playwright): tabs, sorting,
filtering, the archived filter, paging and CSV export, offline, with hostile catalog values.

Screenshots are saved in test-artifacts/ (gitignored) for people to look at.
"""

from __future__ import annotations

import contextlib
import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Browser, Page, expect, sync_playwright

from datasharing.tokens import api_token_create
from packages_app.models import Package, PackageLibrary
from packages_app.report.artifacts import package_artifacts_write
from packages_app.report.content import report_content_build
from packages_app.report.render import report_html_render
from tests.packages_app.report.builders import freeze_demo_package, report_records

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[3]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
HOSTILE = '<img src=x onerror="alert(document.domain)">'
FORMULA = '=HYPERLINK("http://evil.example","click")'


@contextlib.contextmanager
def chromium() -> Iterator[Browser]:
    """Debian's Chromium, headless. Start it once the test's database work is done: Django
    refuses ORM calls while Playwright's event loop runs in the thread."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            browser.close()


class PageWatch:
    """What a page did that it must not: dialogs (injected script), errors, network requests."""

    def __init__(self, page: Page, allowed_prefixes: tuple[str, ...]) -> None:
        self.dialogs: list[str] = []
        self.errors: list[str] = []
        self.requests: list[str] = []
        page.on("dialog", lambda dialog: (self.dialogs.append(dialog.message), dialog.dismiss()))
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        page.on(
            "request",
            lambda request: (
                None
                if request.url.startswith(allowed_prefixes)
                else self.requests.append(request.url)
            ),
        )

    def assert_clean(self) -> None:
        assert self.dialogs == [], "catalog text ran as script"
        assert self.errors == []
        assert self.requests == [], "the report fetched something"


def visible_column(page: Page, section: str, column_key: str, columns: list[str]) -> list[str]:
    index = columns.index(column_key) + 1
    return page.locator(f"#{section} table.data tbody tr td:nth-child({index})").all_inner_texts()


def column_keys(page: Page, table_key: str) -> list[str]:
    return page.evaluate(
        "key => window.datasharingReport.views[key].columns.map(c => c.key)", table_key
    )


@pytest.fixture
def report_file(demo_catalog: Path, admin_user: User, tmp_path: Path) -> Path:
    package = freeze_demo_package(user=admin_user)
    library = PackageLibrary.objects.get(package=package, library_id="L2400102")
    library.metadata = {**library.metadata, "sample_id": HOSTILE, "external_sample_id": FORMULA}
    library.save()
    path = tmp_path / "SummaryReport.demo-report.html"
    path.write_text(report_html_render(report_content_build(package=package)), encoding="utf-8")
    return path


def test_report_sorts_filters_pages_and_exports_offline(report_file: Path) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    with chromium() as browser:
        check_offline_report(browser, report_file)


def check_offline_report(browser: Browser, report_file: Path) -> None:
    context = browser.new_context(viewport={"width": 1440, "height": 900}, accept_downloads=True)
    page = context.new_page()
    watch = PageWatch(page, ("file://", "data:", "blob:"))
    page.goto(report_file.as_uri())

    # Summary first, with the archived files called out.
    assert page.locator("#summary").is_visible()
    assert page.locator("#fastqs").is_hidden()
    assert "14 files" in page.locator("#archived-callout").inner_text()
    page.screenshot(path=str(ARTIFACTS / "report-summary.png"), full_page=True)

    # The callout's link opens the FASTQs with only the archived ones.
    page.get_by_role("link", name="Show the 14 archived FASTQs").click()
    assert page.url.endswith("#fastqs")
    assert page.locator("#fastqs .status").inner_text() == "14 of 76 files match"
    columns = column_keys(page, "fastqs")
    assert set(visible_column(page, "fastqs", "archive_state", columns)) == {"archived"}
    assert set(visible_column(page, "fastqs", "storage_class", columns)) == {"DEEP_ARCHIVE"}
    page.locator("#fastqs label.toggle input").uncheck()
    assert page.locator("#fastqs .status").inner_text() == "76 files"

    # Filter all columns: words must all match.
    search = page.locator("#fastqs input[type=search]")
    search.fill("L2400102 R1")
    expect(page.locator("#fastqs .status")).to_have_text("2 of 76 files match")
    assert set(visible_column(page, "fastqs", "library_id", columns)) == {"L2400102"}
    assert set(visible_column(page, "fastqs", "read", columns)) == {"R1"}
    # The hostile sample id is shown as text, not run.
    assert set(visible_column(page, "fastqs", "sample_id", columns)) == {HOSTILE}
    search.fill("")
    expect(page.locator("#fastqs .status")).to_have_text("76 files")

    # Sort by size: largest first, then smallest first.
    page.locator("#fastqs th button.sort", has_text="Bytes").click()
    page.wait_for_selector('#fastqs th[aria-sort="descending"]')
    sizes = [
        int(text.replace(",", "")) for text in visible_column(page, "fastqs", "bytes", columns)
    ]
    assert len(sizes) == 76 and sizes == sorted(sizes, reverse=True)
    page.locator("#fastqs th button.sort", has_text="Bytes").click()
    page.wait_for_selector('#fastqs th[aria-sort="ascending"]')
    sizes = [
        int(text.replace(",", "")) for text in visible_column(page, "fastqs", "bytes", columns)
    ]
    assert sizes == sorted(sizes)

    # Column filters: lane 2 of one run, and a size comparison with units.
    lane_filter = page.locator("#fastqs tr.filters th").nth(columns.index("lane")).locator("input")
    lane_filter.fill("2")
    run_filter = page.locator("#fastqs tr.filters th").nth(columns.index("instrument_run_id"))
    run_filter.locator("input").fill("241101")
    expected = [
        row
        for row in report_records(report_file.read_text(encoding="utf-8"), "fastqs")
        if row["lane"] == 2 and "241101" in row["instrument_run_id"]
    ]
    expect(page.locator("#fastqs .status")).to_have_text(f"{len(expected)} of 76 files match")
    assert set(visible_column(page, "fastqs", "lane", columns)) == {"2"}
    assert set(visible_column(page, "fastqs", "instrument_run_id", columns)) == {
        "241101_A01052_0221_AHVTC2DSXC"
    }
    shown = int(page.locator("#fastqs .status").inner_text().split()[0])
    page.screenshot(path=str(ARTIFACTS / "report-fastqs-filtered.png"))

    # Hide a column; the CSV export has the matching rows (all pages) and the shown columns.
    page.locator("#fastqs .columns-menu summary").click()
    page.locator("#fastqs .columns-menu label", has_text="File name").locator("input").uncheck()
    expect(page.locator("#fastqs .columns-menu summary")).to_have_text("Columns (13 of 14)")
    assert page.locator("#fastqs table.data thead tr").first.locator("th:visible").count() == 13
    page.locator("#fastqs .status").click()  # closes the menu
    with page.expect_download() as download_info:
        page.locator("#fastqs button.primary").click()
    download = download_info.value
    assert download.suggested_filename == "demo-report.fastqs.csv"
    rows = list(csv.reader(io.StringIO(Path(download.path()).read_text(encoding="utf-8-sig"))))
    header = rows[0]
    assert header[:3] == ["Library", "Sample", "Subject"]
    assert "File name" not in header and len(header) == 13
    assert len(rows) == shown + 1
    assert {row[header.index("Lane")] for row in rows[1:]} == {"2"}
    exported_bytes = [int(row[header.index("Bytes")]) for row in rows[1:]]
    assert exported_bytes == sorted(exported_bytes)

    # Paging through the secondary files.
    page.locator(".tabs a", has_text="Secondary files").click()
    files = page.locator("#files table.data tbody tr")
    assert files.count() == 100
    page.locator("#files .pager select").select_option("25")
    assert files.count() == 25
    page.locator("#files .pager button", has_text="Next").click()
    assert (
        page.locator("#files .pager span").first.inner_text().startswith("Rows 26\u201350 of 226")
    )
    page.screenshot(path=str(ARTIFACTS / "report-secondary-files.png"))

    page.locator(".tabs a", has_text="Metadata").click()
    page.screenshot(path=str(ARTIFACTS / "report-metadata.png"))
    # Spreadsheets must not run catalog text as a formula.
    page.locator("#metadata input[type=search]").fill("L2400102")
    expect(page.locator("#metadata .status")).to_have_text("1 of 21 libraries match")
    with page.expect_download() as download_info:
        page.locator("#metadata button.primary").click()
    text = Path(download_info.value.path()).read_text(encoding="utf-8-sig")
    metadata_rows = list(csv.reader(io.StringIO(text)))
    exported = dict(zip(metadata_rows[0], metadata_rows[1], strict=True))
    assert exported["External sample"] == "'" + FORMULA
    assert exported["Sample"] == HOSTILE
    watch.assert_clean()
    context.close()


@pytest.fixture
def served_package(transactional_db: None, demo_catalog: Path, viewer: User) -> tuple[Package, str]:
    # The live server's thread reads committed rows: a transactional test.
    package = freeze_demo_package(user=viewer, library_ids=["L2400101", "L2400102", "L2400103"])
    package_artifacts_write(package=package)
    return package, api_token_create(user=viewer)[1]


@pytest.mark.django_db(transaction=True)  # also makes pytest-django run it after the others
def test_report_served_by_the_api_works_inside_its_sandbox(
    live_server: Any, served_package: tuple[Package, str]
) -> None:
    with chromium() as browser:
        check_served_report(browser, live_server.url, *served_package)


def check_served_report(browser: Browser, base_url: str, package: Package, token: str) -> None:
    context = browser.new_context(
        extra_http_headers={"Authorization": f"Bearer {token}"}, accept_downloads=True
    )
    page = context.new_page()
    watch = PageWatch(page, (base_url, "data:", "blob:"))
    response = page.goto(f"{base_url}/api/v1/package/{package.id}/report#fastqs")
    assert response is not None and response.status == 200
    assert "sandbox" in response.headers["content-security-policy"]
    assert page.locator("#fastqs .status").inner_text() == "12 files"
    page.locator("#fastqs th button.sort", has_text="Library").click()
    page.locator("#fastqs input[type=search]").fill("L2400103")
    expect(page.locator("#fastqs .status")).to_have_text("2 of 12 files match")
    with page.expect_download() as download_info:
        page.locator("#fastqs button.primary").click()
    assert len(Path(download_info.value.path()).read_text(encoding="utf-8-sig").splitlines()) == 3
    # The sandbox gives the page an opaque origin: its script cannot read the API's cookies.
    assert (
        page.evaluate("() => { try { return document.cookie; } catch (e) { return 'blocked'; } }")
        == "blocked"
    )
    watch.assert_clean()
    context.close()
