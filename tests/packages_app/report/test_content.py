"""The report's content: rendered from a frozen demo package, checked as a reviewer would."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from pypdf import PdfReader

from catalog_app.models import Library
from packages_app.models import DataType, Package, PackageFile, PackageLibrary
from packages_app.report.content import report_content_build
from packages_app.report.render import report_html_render, report_pdf_render, share_rows
from tests.packages_app.report.builders import (
    freeze_demo_package,
    make_synthetic_package,
    report_data,
    report_records,
)

HOSTILE = '<script>alert("x")</script>'
HOSTILE_IMG = '"><img src=x onerror=alert(1)>'


@pytest.fixture
def demo_package(demo_catalog: Path, admin_user: User) -> Package:
    return freeze_demo_package(user=admin_user)


def render_html(package: Package) -> str:
    return report_html_render(report_content_build(package=package))


def visible_text(html: str) -> str:
    """The page's text outside <script> and <style>, tags removed (what a reader sees)."""
    without_code = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", without_code))


def test_report_lists_every_frozen_file_once_with_its_relative_path(demo_package: Package) -> None:
    html = render_html(demo_package)
    fastqs = report_records(html, "fastqs")
    secondary = report_records(html, "files")
    frozen = PackageFile.objects.filter(package=demo_package)
    assert sorted(row["relative_path"] for row in fastqs) == sorted(
        frozen.filter(data_type=DataType.FASTQ).values_list("relative_path", flat=True)
    )
    assert sorted(row["relative_path"] for row in secondary) == sorted(
        frozen.filter(data_type=DataType.SECONDARY_ANALYSIS).values_list("relative_path", flat=True)
    )
    assert len(fastqs) + len(secondary) == demo_package.file_count
    by_path = {file.relative_path: file for file in frozen}
    for row in [*fastqs, *secondary]:
        assert row["bytes"] == row["size"] == by_path[row["relative_path"]].size
        assert row["relative_path"].endswith("/" + row["file_name"])


def test_fastq_rows_carry_library_sample_subject_project_run_lane_and_compression(
    demo_package: Package,
) -> None:
    fastqs = report_records(render_html(demo_package), "fastqs")
    row = next(r for r in fastqs if r["library_id"] == "L2400102" and r["read"] == "R1")
    library = PackageLibrary.objects.get(package=demo_package, library_id="L2400102")
    assert row["sample_id"] == library.metadata["sample_id"]
    assert row["subject_id"] == "SBJ00101"
    assert row["project"] == "CUP"
    assert row["instrument_run_id"] == "241024_A00130_0336_BHW7MVDSXC"
    assert row["lane"] == 1
    assert row["compression"] == "gzip"
    assert row["relative_path"] == (
        "fastq/241024_A00130_0336_BHW7MVDSXC/Lane_1/L2400102/L2400102_S2_L001_R1_001.fastq.gz"
    )
    ora = [r for r in fastqs if r["file_name"].endswith(".fastq.ora")]
    assert ora and {r["compression"] for r in ora} == {"ORA"}
    # The topup, sequenced on another run, is listed under its base library.
    topup = [r for r in fastqs if "L2400101_topup" in r["relative_path"]]
    assert {r["library_id"] for r in topup} == {"L2400101"}


def test_summary_counts_match_the_frozen_package(demo_package: Package) -> None:
    content = report_content_build(package=demo_package)
    totals = content.totals
    frozen = PackageFile.objects.filter(package=demo_package)
    assert totals.libraries == 21 == demo_package.library_count
    assert totals.fastq_files == frozen.filter(data_type=DataType.FASTQ).count() == 76
    assert totals.analyses == demo_package.workflow_run_count
    assert totals.files == demo_package.file_count
    assert totals.bytes == demo_package.total_bytes
    by_type = {row.label: row for row in content.breakdown("data_type").rows}
    assert by_type["FASTQ"].files == totals.fastq_files
    assert by_type["Secondary analysis"].size == totals.secondary_bytes
    projects = {row.label: row for row in content.breakdown("project").rows}
    assert set(projects) == {"CUP", "PanCan"}
    assert projects["CUP"].libraries + projects["PanCan"].libraries == 21
    runs = {row.label: row for row in content.breakdown("run").rows}
    assert sum(row.files for row in runs.values()) == totals.fastq_files
    workflows = {row.label: row for row in content.breakdown("workflow").rows}
    assert sum(row.runs or 0 for row in workflows.values()) == totals.analyses
    # Only the latest successful tumor-normal run of SBJ00101 is in the package, not the FAILED one.
    assert "FAILED" not in {
        row["status"] for row in report_records(render_html(demo_package), "analyses")
    }

    text = visible_text(render_html(demo_package))
    assert "21 libraries" in text
    assert f"{totals.fastq_files} FASTQ files" in text
    assert f"{totals.files} files in all" in text
    assert f"{totals.bytes:,} bytes" in text
    for label in ("By data type", "By project", "By instrument run", "By workflow"):
        assert label in text


def test_archived_fastqs_are_called_out_flagged_and_filterable(demo_package: Package) -> None:
    archived = PackageFile.objects.filter(package=demo_package, storage_class="DEEP_ARCHIVE")
    assert archived.count() == 14  # the demo's tumor FASTQs on run 241024_...
    html = render_html(demo_package)
    text = visible_text(html)
    assert "14 files" in text and "are in an archive storage class and not restored" in text
    assert "DEEP_ARCHIVE: 14" in text
    assert 'data-archived-filter="fastqs"' in html
    assert "Show the 14 archived FASTQs" in text
    rows = report_records(html, "fastqs")
    flagged = {row["relative_path"] for row in rows if row["archive_state"] == "archived"}
    assert flagged == set(archived.values_list("relative_path", flat=True))
    assert all(row["archive_state"] == "" for row in rows if row["storage_class"] == "STANDARD")
    fastq_table = next(t for t in report_data(html)["tables"] if t["key"] == "fastqs")
    assert fastq_table["columns"][fastq_table["archiveColumn"]]["key"] == "archive_state"


def test_restored_and_restoring_files_are_told_apart(demo_package: Package) -> None:
    archived = list(PackageFile.objects.filter(package=demo_package, storage_class="DEEP_ARCHIVE"))
    PackageFile.objects.filter(pk__in=[f.pk for f in archived[:10]]).update(
        restore_state="restored"
    )
    PackageFile.objects.filter(pk__in=[f.pk for f in archived[10:12]]).update(
        restore_state="ongoing"
    )
    content = report_content_build(package=demo_package)
    assert content.totals.archived_files == 2
    assert content.totals.restoring_files == 2
    assert content.totals.restored_files == 10
    text = visible_text(report_html_render(content))
    assert "4 files" in text and "2 being restored" in text
    assert "10 archived files have a restored, readable copy" in text
    states = [row["archive_state"] for row in report_records(report_html_render(content), "fastqs")]
    assert states.count("restored") == 10 and states.count("restoring") == 2


def test_report_is_rendered_from_frozen_contents_not_the_live_catalog(
    demo_package: Package,
) -> None:
    Library.objects.filter(library_id="L2400102").update(sample_id="CHANGED-IN-LIMS")
    PackageLibrary.objects.filter(package=demo_package, library_id="L2400103").update(
        catalog_library=None
    )
    Library.objects.filter(library_id="L2400103").update(phenotype="renamed")
    html = render_html(demo_package)
    assert "CHANGED-IN-LIMS" not in html
    assert "renamed" not in html
    metadata = {row["library_id"]: row for row in report_records(html, "metadata")}
    assert metadata["L2400102"]["sample_id"] == "PRJ240102"
    assert metadata["L2400103"]["phenotype"] == "tumor"


def test_catalog_values_are_escaped_everywhere(demo_package: Package) -> None:
    library = PackageLibrary.objects.get(package=demo_package, library_id="L2400102")
    library.metadata = {**library.metadata, "sample_id": HOSTILE, "project_ids": [HOSTILE_IMG]}
    library.save()
    PackageLibrary.objects.create(
        package=demo_package, library_id=HOSTILE, metadata={"subject_id": HOSTILE_IMG}
    )
    demo_package.request = {**demo_package.request, "library_id_list": [HOSTILE]}
    demo_package.save()
    html = render_html(demo_package)
    assert "<script>alert" not in html
    assert "<img src=x" not in html
    # Exactly two real <script> elements: the data island and our code.
    assert len(re.findall(r"<script\b", html)) == 2
    island = re.search(
        r'<script id="report-data" type="application/json">(.*?)</script>', html, re.S
    )
    assert island and "<" not in island.group(1) and ">" not in island.group(1)
    # The values still read back unchanged, as text.
    metadata = {row["library_id"]: row for row in report_records(html, "metadata")}
    assert metadata[HOSTILE]["subject_id"] == HOSTILE_IMG
    assert metadata["L2400102"]["sample_id"] == HOSTILE
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html  # request box and charts


def test_html_references_nothing_outside_itself(demo_package: Package) -> None:
    library = PackageLibrary.objects.get(package=demo_package, library_id="L2400104")
    library.metadata = {**library.metadata, "source": "https://evil.example/pixel.png"}
    library.save()
    html = render_html(demo_package)
    for attribute, value in re.findall(
        r'\b(src|href|action|srcset|poster|data)\s*=\s*"([^"]*)"', html
    ):
        assert value.startswith("#"), f"{attribute}={value!r} points outside the report"
    assert not re.search(
        r"<(link|iframe|object|embed|img|base|meta http-equiv=\"refresh\")\b", html
    )
    assert "@import" not in html
    assert not re.search(r"url\(", html)
    assert "default-src 'none'" in html  # and the page forbids loading anything anyway
    without_the_value = html.replace("https://evil.example/pixel.png", "")
    assert "http://" not in without_the_value and "https://" not in without_the_value
    assert "//" not in re.sub(r"<script\b.*?</script>", "", without_the_value, flags=re.S).replace(
        "<!--", ""
    ).replace("-->", "")


def test_metadata_table_shows_snapshot_fields_in_any_spelling_and_extra_keys(
    demo_package: Package,
) -> None:
    PackageLibrary.objects.filter(package=demo_package, library_id="L2400105").update(
        metadata={
            "sampleId": "PRJ-CAMEL",
            "internal_subject_id": "SBJ-ALIAS",
            "project_id": "CUP",
            "consent": "research-only",
        }
    )
    html = render_html(demo_package)
    metadata = {row["library_id"]: row for row in report_records(html, "metadata")}
    row = metadata["L2400105"]
    assert row["sample_id"] == "PRJ-CAMEL"
    assert row["subject_id"] == "SBJ-ALIAS"
    assert row["project_ids"] == "CUP"
    assert row["extra:consent"] == "research-only"
    assert metadata["L2400102"]["fastq_files"] == 4
    assert metadata["L2400102"]["analyses"] >= 2


def test_package_without_secondary_analysis_has_empty_sections_and_no_workflow_numbers(
    demo_catalog: Path,
) -> None:
    package = freeze_demo_package(
        name="fastq-only", library_ids=["L2400104", "L2400105"], data_types=[DataType.FASTQ]
    )
    content = report_content_build(package=package)
    assert content.totals.analyses == content.totals.secondary_files == 0
    assert content.breakdown("workflow").rows == []
    html = report_html_render(content)
    assert report_records(html, "files") == []
    assert "workflow" not in re.findall(r'id="chart-(\w+)"', html)


def test_pdf_has_pages_with_the_summary_and_every_file_of_a_small_package(
    demo_package: Package,
) -> None:
    pdf = report_pdf_render(report_content_build(package=demo_package))
    assert pdf.startswith(b"%PDF-")
    reader = PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) >= 3
    first = reader.pages[0].extract_text()
    assert "demo-report" in first and demo_package.id in first
    assert "archive storage class" in first
    text = "".join(page.extract_text() for page in reader.pages)
    assert "Archived files" in text and "FASTQs" in text and "Secondary files" in text
    assert "shows the first" not in text  # nothing cut in a small package
    compact = re.sub(r"\s+", "", text)
    for path in PackageFile.objects.filter(package=demo_package).values_list(
        "relative_path", flat=True
    )[:40]:
        assert path in compact, path  # paths wrap in table cells; compare without whitespace


def test_pdf_row_budget_lists_short_tables_in_full_and_shares_the_rest() -> None:
    assert share_rows([5, 300, 20, 1000], 100) == [5, 37, 20, 38]
    assert share_rows([5, 10], 100) == [5, 10]
    assert share_rows([50, 50, 50], 0) == [0, 0, 0]
    assert sum(share_rows([21, 14, 76, 26, 226], 400)) == 363  # the demo package: nothing cut


def test_pdf_cuts_long_tables_and_says_so(db: None) -> None:
    package = make_synthetic_package(libraries=30, runs=3)  # 120 FASTQs, 15 analyses, 120 files
    content = report_content_build(package=package)
    reader = PdfReader(io.BytesIO(report_pdf_render(content, max_rows=100)))
    text = re.sub(r"\s+", " ", "".join(page.extract_text() for page in reader.pages))
    # The 15 analyses and 16 archived files are listed in full; the rest share 69 rows.
    assert "shows the first 23 of 30 libraries" in text
    assert text.count("shows the first 23 of 120 files") == 2
    assert "of 15 workflow runs" not in text and "archived files;" not in text
    assert "The HTML report lists every one" in text


def test_json_data_island_is_compact_and_round_trips(db: None) -> None:
    package = make_synthetic_package(libraries=200, runs=5)
    html = report_html_render(report_content_build(package=package))
    data = report_data(html)
    fastqs = next(t for t in data["tables"] if t["key"] == "fastqs")
    assert len(fastqs["rows"]) == 800
    assert {row[4] for row in fastqs["rows"]} == set(
        PackageFile.objects.filter(package=package, data_type=DataType.FASTQ).values_list(
            "instrument_run_id", flat=True
        )
    )
    raw = re.search(r'type="application/json">(.*?)</script>', html, re.S)
    assert raw and '"dictionaries":{"' in raw.group(1)  # repeated values sent once
    assert json.loads(raw.group(1))["packageName"] == "synthetic-report"
