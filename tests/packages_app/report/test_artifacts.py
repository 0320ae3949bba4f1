"""Writing the report artifacts: the packaging pipeline's last step, the re-render command, the
Celery task and the admin helpers."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.contrib import admin
from django.contrib.auth.models import User
from django.contrib.messages.storage.fallback import FallbackStorage
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import RequestFactory
from pypdf import PdfReader

from datasharing import s3
from packages_app.models import Package, PackageStatus
from packages_app.report.admin import report_admin_links, rerender_report_action
from packages_app.report.artifacts import (
    package_artifacts_write,
    package_report_ensure,
    package_report_write,
)
from packages_app.report.tasks import package_report_render_task
from tests.packages_app.report.builders import freeze_demo_package, report_records


@pytest.fixture
def demo_package(demo_catalog: Path, admin_user: User) -> Package:
    return freeze_demo_package(user=admin_user)


@pytest.fixture
def small_package(demo_catalog: Path, admin_user: User) -> Package:
    return freeze_demo_package(name="small", user=admin_user, library_ids=["L2400104", "L2400105"])


def artifact(key: str) -> bytes:
    return s3.get_object_bytes(settings.ARTIFACT_BUCKET, key)


def test_artifacts_write_stores_manifest_checksums_and_both_reports(demo_package: Package) -> None:
    messages: list[str] = []
    package_artifacts_write(package=demo_package, progress=messages.append)

    demo_package.refresh_from_db()
    prefix = s3.artifact_key(demo_package.id)
    assert demo_package.manifest_key == f"{prefix}/manifest.tsv"
    assert demo_package.checksums_key == f"{prefix}/checksums.md5"
    assert demo_package.report_html_key == f"{prefix}/SummaryReport.demo-report.html"
    assert demo_package.report_pdf_key == f"{prefix}/SummaryReport.demo-report.pdf"

    manifest = list(
        csv.DictReader(io.StringIO(artifact(demo_package.manifest_key).decode()), delimiter="\t")
    )
    assert len(manifest) == demo_package.file_count
    html = artifact(demo_package.report_html_key).decode()
    listed = {row["relative_path"] for row in report_records(html, "fastqs")} | {
        row["relative_path"] for row in report_records(html, "files")
    }
    assert listed == {row["relative_path"] for row in manifest}
    assert len(PdfReader(io.BytesIO(artifact(demo_package.report_pdf_key))).pages) >= 3

    html_head = s3.head_object(settings.ARTIFACT_BUCKET, demo_package.report_html_key)
    assert html_head is not None
    stream = s3.open_object(settings.ARTIFACT_BUCKET, demo_package.report_html_key)
    assert stream is not None and stream.content_type.startswith("text/html")
    stream.body.close()
    assert any("21 libraries" in message for message in messages)
    assert any(message.startswith("PDF report:") for message in messages)


def test_report_is_rendered_again_when_its_object_is_gone(small_package: Package) -> None:
    package_report_write(package=small_package, formats=("pdf",))
    small_package.refresh_from_db()
    key = small_package.report_pdf_key
    assert package_report_ensure(package=small_package, report_format="pdf") == key
    s3.client().delete_object(Bucket=settings.ARTIFACT_BUCKET, Key=key)
    assert package_report_ensure(package=small_package, report_format="pdf") == key
    assert artifact(key).startswith(b"%PDF-")


def test_render_report_command_rerenders_with_progress(
    demo_package: Package, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    call_command("render_report", demo_package.id, "--output-dir", str(tmp_path / "out"))
    out = capsys.readouterr().out
    demo_package.refresh_from_db()
    assert demo_package.report_html_key and demo_package.report_pdf_key
    assert f"[{demo_package.id}] reading the package's frozen contents" in out
    assert "21 libraries, 76 FASTQ files" in out
    assert "HTML report:" in out and "PDF report:" in out and "done in" in out
    saved = tmp_path / "out" / "SummaryReport.demo-report.html"
    assert saved.read_bytes() == artifact(demo_package.report_html_key)
    assert (tmp_path / "out" / "SummaryReport.demo-report.pdf").read_bytes().startswith(b"%PDF-")


def test_render_report_command_can_render_one_format_and_all_artifacts(
    small_package: Package, capsys: pytest.CaptureFixture[str]
) -> None:
    call_command("render_report", small_package.id.removeprefix("pkg."), "--format", "html")
    small_package.refresh_from_db()
    assert small_package.report_html_key and not small_package.report_pdf_key
    call_command("render_report", small_package.id, "--all-artifacts")
    small_package.refresh_from_db()
    assert small_package.manifest_key and small_package.checksums_key
    assert small_package.report_pdf_key
    assert "writing manifest.tsv" in capsys.readouterr().out


def test_render_report_command_refuses_unknown_and_unfinished_packages(
    demo_package: Package,
) -> None:
    with pytest.raises(CommandError, match="No package"):
        call_command("render_report", "pkg.01JAAAAAAAAAAAAAAAAAAAAAAA")
    Package.objects.filter(pk=demo_package.pk).update(status=PackageStatus.RUNNING)
    with pytest.raises(CommandError, match="still being frozen"):
        call_command("render_report", demo_package.id)
    assert not Package.objects.get(pk=demo_package.pk).report_html_key


def test_render_task_renders_succeeded_packages_only(small_package: Package) -> None:
    package_report_render_task.delay(small_package.id)
    small_package.refresh_from_db()
    assert small_package.report_html_key and small_package.report_pdf_key

    failed = freeze_demo_package(
        name="failed-one", library_ids=["L2400104"], status=PackageStatus.FAILED
    )
    package_report_render_task.delay(failed.id)
    package_report_render_task.delay(
        "pkg.01JAAAAAAAAAAAAAAAAAAAAAAA"
    )  # deleted meanwhile: no error
    failed.refresh_from_db()
    assert not failed.report_html_key


def test_admin_links_point_to_the_report_endpoints(demo_package: Package) -> None:
    links = str(report_admin_links(demo_package))
    assert f'href="/api/v1/package/{demo_package.id}/report"' in links
    assert f'href="/api/v1/package/{demo_package.id}/report?format=pdf"' in links
    assert f'href="/api/v1/package/{demo_package.id}:getSummaryReport"' in links
    Package.objects.filter(pk=demo_package.pk).update(status=PackageStatus.FAILED)
    demo_package.refresh_from_db()
    assert "none: the package is FAILED" in str(report_admin_links(demo_package))


def test_admin_action_enqueues_a_render_per_succeeded_package(
    small_package: Package,
    admin_user: User,
    django_capture_on_commit_callbacks: Any,
) -> None:
    running = freeze_demo_package(
        name="running", library_ids=["L2400104"], status=PackageStatus.RUNNING
    )
    request = RequestFactory().post("/admin/packages_app/package/")
    request.user = admin_user
    request.session = {}  # type: ignore[assignment]
    request._messages = FallbackStorage(request)  # type: ignore[attr-defined]
    model_admin = admin.ModelAdmin(Package, admin.site)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        rerender_report_action(
            model_admin, request, Package.objects.filter(pk__in=[small_package.pk, running.pk])
        )
    assert len(callbacks) == 1
    small_package.refresh_from_db()
    running.refresh_from_db()
    assert small_package.report_html_key and not running.report_html_key
    message = [str(m) for m in request._messages]  # type: ignore[attr-defined]
    assert message == [
        "Rendering the report of 1 package(s) in the background; 1 skipped (not SUCCEEDED)."
    ]


@pytest.mark.django_db
def test_package_admin_page_links_to_the_report(demo_package: Package) -> None:
    from django.contrib.auth.models import User
    from django.test import Client

    client = Client()
    client.force_login(
        User.objects.create_superuser("report-admin", "r@example.org", "pw-tests-only")
    )
    page = client.get(f"/admin/packages_app/package/{demo_package.pk}/change/")
    assert page.status_code == 200
    assert f"/api/v1/package/{demo_package.id}/report" in page.content.decode()
