"""End to end: the installed CLI drives the real service (live server, real worker, SeaweedFS).

Generate a package from demo manifests with --wait, look at it, push it with --wait, presign it,
list and get the jobs; and the ways a job or a request can go wrong, as the user sees them.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

from datasharing import s3
from packages_app.models import Package, PackageStatus
from tests.cli.conftest import run_cli
from tests.cli.test_cli_live import RUN_ID, Cli, assert_token_hidden, write_manifests
from tests.conftest import WorkerProcess
from tests.sharing_app.presign.helpers import shared_bucket

pytestmark = pytest.mark.django_db(transaction=True)


def browser_recorder(tmp_path: Path) -> tuple[Path, Path]:
    """A $BROWSER that records the URLs it is asked to open."""
    opened = tmp_path / "opened.txt"
    browser = tmp_path / "browser.sh"
    browser.write_text(f'#!/bin/sh\necho "$1" >> {opened}\n')
    browser.chmod(0o755)
    return browser, opened


def test_generate_push_presign_and_list_with_the_cli(
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

    # 3. Push it into a bucket, waiting; every file arrives.
    bucket = shared_bucket("cli-push")
    prefix = f"incoming/{package_id}/"
    settings.SHARE_ALLOWED_DESTINATIONS = [f"s3://{bucket}/incoming/"]
    pushed = live_cli(
        "push-package",
        "--package-id",
        package_id,
        "--share-location",
        f"s3://{bucket}/{prefix}",
        "--wait",
        timeout=300,
    )
    assert pushed.returncode == 0, pushed.stderr + celery_worker.log()[-3000:]
    assert_token_hidden(pushed, token)
    push_id = pushed.stdout.strip()
    assert push_id.startswith("psh.")
    assert f"push job {push_id}: " in pushed.stderr  # progress was shown
    assert f"files {len(paths)}/{len(paths)}" in pushed.stderr
    arrived = {info.key for info in s3.list_objects(bucket, prefix)}
    assert {f"{prefix}{path}" for path in paths} <= arrived

    # 4. The push jobs: list (table and JSON) and get.
    jobs = json.loads(live_cli("list-push-jobs", "--package-id", package_id, "--json").stdout)
    assert [job["id"] for job in jobs] == [push_id]
    table = live_cli("list-push-jobs", "--package-id", package_id)
    assert push_id in table.stdout and f"{len(paths)}/{len(paths)}" in table.stdout
    job = live_cli("get-push-job-status", "--push-job-id", push_id)
    assert job.returncode == 0, job.stderr
    assert "SUCCEEDED" in job.stdout and f"Files done:    {len(paths)}/{len(paths)}" in job.stdout
    waited = live_cli("get-push-job-status", "--push-job-id", push_id, "--wait", "--json")
    assert waited.returncode == 0 and json.loads(waited.stdout)["status"] == "SUCCEEDED"

    # Not allowed there: refused with the server's reason, nothing started.
    elsewhere = live_cli(
        "push-package", "--package-id", package_id, "--share-location", f"s3://{bucket}/other/"
    )
    assert elsewhere.returncode == 6, elsewhere.stderr
    assert "curators also create" not in elsewhere.stderr  # not a role problem

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


def test_push_refusals_give_distinct_exit_codes(
    live_server: Any,
    cli_env: dict[str, str],
    curator_token: str,
    viewer_token: str,
    settings: Any,
) -> None:
    settings.SHARE_ALLOWED_DESTINATIONS = ["s3://somewhere/"]

    def as_user(token: str, *args: str) -> subprocess.CompletedProcess[str]:
        env = {**cli_env, "DATA_SHARING_URL": live_server.url, "DATA_SHARING_TOKEN": token}
        result = run_cli(*args, env=env)
        assert_token_hidden(result, token)
        return result

    pending = Package.objects.create(package_name="cli-pending", request={})
    push = ("push-package", "--package-id", pending.id, "--share-location", "s3://somewhere/in/")
    forbidden = as_user(viewer_token, *push)
    assert forbidden.returncode == 6, forbidden.stderr
    not_ready = as_user(curator_token, *push)
    assert not_ready.returncode == 8, not_ready.stderr
    unknown = as_user(
        curator_token, "get-push-job-status", "--push-job-id", "psh.01JD5V7Q3S8K2M4N6P8R0T2V4X"
    )
    assert unknown.returncode == 7, unknown.stderr
    none = as_user(viewer_token, "list-push-jobs", "--package-id", pending.id)
    assert none.returncode == 0 and "No push jobs match." in none.stderr
