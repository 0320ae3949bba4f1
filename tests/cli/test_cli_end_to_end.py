"""End to end: the installed CLI drives the real service (live server, real worker, SeaweedFS).

Generate a package from demo manifests with --wait, look at it, push it with --wait, presign it,
list and get the jobs; and the ways a job or a request can go wrong, as the user sees them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from packages_app.models import Package, PackageStatus
from tests.cli.test_cli_live import RUN_ID, Cli, assert_token_hidden, write_manifests
from tests.conftest import WorkerProcess

pytestmark = pytest.mark.django_db(transaction=True)


def browser_recorder(tmp_path: Path) -> tuple[Path, Path]:
    """A $BROWSER that records the URLs it is asked to open."""
    opened = tmp_path / "opened.txt"
    browser = tmp_path / "browser.sh"
    browser.write_text(f'#!/bin/sh\necho "$1" >> {opened}\n')
    browser.chmod(0o755)
    return browser, opened


def test_generate_look_and_presign_with_the_cli(
    live_cli: Cli,
    live_env: dict[str, str],
    demo_catalog: Path,
    celery_worker: WorkerProcess,
    bucket_factory: Any,
    settings: Any,
    tmp_path: Path,
) -> None:
    token = live_env["DATA_SHARING_TOKEN"]
    lims, workflows, library_ids = write_manifests(tmp_path / "manifests")
    browser, opened = browser_recorder(tmp_path)

    # 1. Package FASTQs and analyses of one run's libraries, waiting for the real worker.
    generated = live_cli(
        "generate-package",
        "--package-name",
        "cli-e2e",
        "--lims-manifest-csv",
        str(lims),
        "--workflow-manifest-csv",
        str(workflows),
        "--wait",
        timeout=300,
    )
    assert generated.returncode == 0, generated.stderr + celery_worker.log()[-3000:]
    assert_token_hidden(generated, token)
    package_id = generated.stdout.strip()
    assert package_id.startswith("pkg.")
    package = Package.objects.get(id=package_id)
    assert package.status == PackageStatus.SUCCEEDED
    assert set(package.libraries.values_list("library_id", flat=True)) == set(library_ids)
    paths = set(package.files.values_list("relative_path", flat=True))
    assert any(path.startswith(f"fastq/{RUN_ID}/Lane_") for path in paths)
    assert any(path.startswith("secondary-analysis/tumor-normal/") for path in paths)
    assert f"package {package_id}: " in generated.stderr  # progress was shown
    assert f"Package {package_id} is ready: SUCCEEDED" in generated.stderr

    # 2. Look at it: status (table and JSON), the list, the report.
    status = live_cli("get-package-status", "--package-id", package_id)
    assert status.returncode == 0, status.stderr
    assert "Status:" in status.stdout and "SUCCEEDED" in status.stdout
    assert f"Files:          {package.file_count}" in status.stdout
    as_json = json.loads(
        live_cli("get-package-status", "--package-id", package_id, "--json").stdout
    )
    assert (as_json["id"], as_json["status"], as_json["fileCount"]) == (
        package_id,
        "SUCCEEDED",
        package.file_count,
    )
    listed = live_cli("list-packages", "--package-name", "cli-e2e")
    assert listed.returncode == 0, listed.stderr
    assert package_id in listed.stdout and "SUCCEEDED" in listed.stdout
    report = live_cli(
        "view-package-report", "--package-id", package_id, env={"BROWSER": str(browser)}
    )
    assert report.returncode == 0, report.stderr
    report_url = report.stdout.strip()
    assert opened.read_text().splitlines() == [report_url]
    page = httpx.get(report_url, timeout=30)
    assert page.status_code == 200
    assert "cli-e2e" in page.text
    saved = tmp_path / "report.pdf"
    assert (
        live_cli(
            "view-package-report", "--package-id", package_id, "--output", str(saved)
        ).returncode
        == 0
    )
    assert saved.read_bytes().startswith(b"%PDF")

    # 5. Presign it: the URL serves the download script, and $BROWSER is given it.
    presigned = live_cli(
        "presign-package", "--package-id", package_id, env={"BROWSER": str(browser)}
    )
    assert presigned.returncode == 0, presigned.stderr
    assert_token_hidden(presigned, token)
    script_url = presigned.stdout.strip()
    assert opened.read_text().splitlines() == [report_url, script_url]
    script = httpx.get(script_url, timeout=30)
    assert script.status_code == 200
    assert script.text.startswith("#!")
    assert f"download-data.cli-e2e.sh: {package.file_count} files" in presigned.stderr
