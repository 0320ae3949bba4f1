"""The installed CLI (a subprocess) against the real app on a live test server.

pytest-django's `live_server` serves the app on a real port with the test database; S3 is the
session's SeaweedFS. The full package -> push -> presign flow is in test_cli_end_to_end.py.
"""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from rest_framework.test import APIClient

from catalog_app import demo
from packages_app.models import Package, PackageStatus
from tests.cli.conftest import CLI, run_cli
from tests.conftest import wait_for
from tests.sharing_app.presign.helpers import CONTENTS, fetch, make_download_package, run_script

pytestmark = pytest.mark.django_db(transaction=True)

RUN_ID = "241101_A01052_0221_AHVTC2DSXC"  # no archived FASTQs on this run

Cli = Callable[..., subprocess.CompletedProcess[str]]


def write_manifests(folder: Path) -> tuple[Path, Path, list[str]]:
    """Full mart exports, cut to the libraries of one run and their successful analyses."""
    folder.mkdir(parents=True, exist_ok=True)
    lims_rows = list(csv.DictReader(io.StringIO(demo.lims_csv())))
    chosen = [row for row in lims_rows if row["sequencing_run_id"] == RUN_ID]
    library_ids = sorted({row["library_id"] for row in chosen})
    lims_path = folder / "lims.csv"
    with lims_path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(lims_rows[0]))
        writer.writeheader()
        writer.writerows(chosen)
    workflow_rows = list(csv.DictReader(io.StringIO(demo.workflows_csv(demo.workflow_runs()))))
    analyses = [
        row
        for row in workflow_rows
        if row["library_id"] in library_ids
        and row["workflow_status"] == "SUCCEEDED"
        and row["workflow_name"] in ("tumor-normal", "umccrise")
    ]
    workflow_path = folder / "workflows.csv"
    with workflow_path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(workflow_rows[0]))
        writer.writeheader()
        writer.writerows(analyses)
    return lims_path, workflow_path, library_ids


def assert_token_hidden(result: subprocess.CompletedProcess[str], token: str) -> None:
    assert token not in result.stdout + result.stderr


def test_bad_manifests_give_a_clear_error_and_create_no_package(
    live_cli: Cli, live_env: dict[str, str], tmp_path: Path
) -> None:
    lims, workflows, _ = write_manifests(tmp_path)
    stray = tmp_path / "stray.csv"
    stray.write_text(
        workflows.read_text() + "20241103abcdef12,L2409999,tumor-normal,4.3.6,SUCCEEDED,,,,,,\n"
    )
    bad_date = tmp_path / "bad-date.csv"
    bad_date.write_text(lims.read_text().replace(",2024-11-01,", ",2024-11-31,", 1))
    cases = [
        (
            ("--lims-manifest-csv", str(lims), "--workflow-manifest-csv", str(stray)),
            "column 'library_id': library 'L2409999' is not in the LIMS manifest",
        ),
        (
            ("--lims-manifest-csv", str(bad_date)),
            f"{bad_date}, line 2 (row 1), column 'sequencing_run_date'",
        ),
        (("--lims-manifest-csv", str(tmp_path / "missing.csv")), "missing.csv: file not found"),
    ]
    for args, expected in cases:
        result = live_cli("generate-package", "--package-name", "cli-bad", *args, "--wait")
        assert result.returncode == 3, result.stderr
        assert expected in result.stderr
        assert "nothing was sent" in result.stderr
        assert_token_hidden(result, live_env["DATA_SHARING_TOKEN"])
    assert Package.objects.count() == 0


def test_presign_package_hands_over_a_download_script_that_fetches_every_file(
    live_cli: Cli, live_env: dict[str, str], viewer_token: str, tmp_path: Path
) -> None:
    contents = dict(list(CONTENTS.items())[:3])
    package = make_download_package(contents=contents, name="cli-presign")
    browser = tmp_path / "browser.sh"
    opened = tmp_path / "opened.txt"
    browser.write_text(f'#!/bin/sh\necho "$1" >> {opened}\n')
    browser.chmod(0o755)

    result = live_cli("presign-package", "--package-id", package.id, env={"BROWSER": str(browser)})
    assert result.returncode == 0, result.stderr
    assert_token_hidden(result, live_env["DATA_SHARING_TOKEN"])
    url = result.stdout.strip()
    assert opened.read_text() == f"{url}\n"
    assert "download-data.cli-presign.sh: 3 files" in result.stderr
    assert "This URL expires at" in result.stderr

    script = tmp_path / "download-data.sh"
    script.write_bytes(fetch(url))
    received = tmp_path / "received"
    run = run_script(script, "--download-path", str(received))
    assert run.returncode == 0, run.output
    for relative_path, body in contents.items():
        assert (received / relative_path).read_bytes() == body

    as_json = live_cli(
        "presign-package", "--package-id", package.id, "--file-url-expiry-days", "2", "--json"
    )
    answer = json.loads(as_json.stdout)
    assert answer["fileCount"] == 3
    assert answer["fileUrlExpirySeconds"] == 2 * 86400
    assert answer["scriptUrl"].startswith("http")

    viewer = live_cli(
        "presign-package", "--package-id", package.id, env={"DATA_SHARING_TOKEN": viewer_token}
    )
    assert viewer.returncode == 6
    assert "curators also create packages, push and presign" in viewer.stderr
    unknown = live_cli("presign-package", "--package-id", "pkg.01JD5V7Q3S8K2M4N6P8R0T2V4X")
    assert unknown.returncode == 7, unknown.stderr
    running = Package.objects.create(
        package_name="cli-running", status=PackageStatus.RUNNING, request={}
    )
    refused = live_cli("presign-package", "--package-id", running.id)
    assert refused.returncode == 8, refused.stderr


def test_unknown_ids_bad_tokens_and_unknown_libraries_give_distinct_exit_codes(
    live_server: Any,
    cli_env: dict[str, str],
    curator_token: str,
    viewer_token: str,
    demo_catalog: Path,
    tmp_path: Path,
) -> None:
    def as_user(token: str, *args: str) -> subprocess.CompletedProcess[str]:
        env = {**cli_env, "DATA_SHARING_URL": live_server.url, "DATA_SHARING_TOKEN": token}
        result = run_cli(*args, env=env)
        assert_token_hidden(result, token)
        return result

    unknown = "pkg.01JD5V7Q3S8K2M4N6P8R0T2V4X"
    bad_token = as_user("not-a-token", "get-package-status", "--package-id", unknown)
    assert bad_token.returncode == 6
    assert "check DATA_SHARING_TOKEN" in bad_token.stderr
    missing = as_user(curator_token, "get-package-status", "--package-id", unknown)
    assert missing.returncode == 7, missing.stderr
    assert "is DATA_SHARING_URL" not in missing.stderr  # the endpoint exists; the package not

    lims = tmp_path / "unknown.csv"
    lims.write_text("library_id\nL2409998\nL2409999\n")
    refused = as_user(
        curator_token,
        "generate-package",
        "--package-name",
        "cli-unknown",
        "--lims-manifest-csv",
        str(lims),
    )
    assert refused.returncode == 9, refused.stderr
    assert "L2409998" in refused.stderr and "L2409999" in refused.stderr
    viewer = as_user(
        viewer_token,
        "generate-package",
        "--package-name",
        "cli-viewer",
        "--lims-manifest-csv",
        str(demo_catalog / "lims_manifest.csv"),
    )
    assert viewer.returncode == 6, viewer.stderr
    assert not Package.objects.exists()

    dry_run = as_user(
        viewer_token,
        "generate-package",
        "--package-name",
        "cli-dry",
        "--lims-manifest-csv",
        str(demo_catalog / "lims_manifest.csv"),
        "--dry-run",
    )
    assert dry_run.returncode == 0, dry_run.stderr
    assert "Libraries:" in dry_run.stdout and "Files:" in dry_run.stdout
    assert "Nothing was created." in dry_run.stderr
    as_json = as_user(
        viewer_token,
        "generate-package",
        "--package-name",
        "cli-dry",
        "--lims-manifest-csv",
        str(demo_catalog / "lims_manifest.csv"),
        "--dry-run",
        "--json",
    )
    assert json.loads(as_json.stdout)["libraryCount"] == 6
    assert not Package.objects.exists()


@pytest.fixture
def no_worker(settings: Any) -> Iterator[None]:
    """Tasks go to the Redis queue and nobody takes them: jobs stay PENDING."""
    from datasharing.celery import app

    settings.CELERY_TASK_ALWAYS_EAGER = False
    app.conf.task_always_eager = False
    try:
        yield
    finally:
        app.control.purge()
        app.conf.task_always_eager = True


def start_waiting(live_env: dict[str, str], lims: Path, name: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            str(CLI),
            "generate-package",
            "--package-name",
            name,
            "--lims-manifest-csv",
            str(lims),
            "--wait",
        ],
        env=live_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_wait_ends_non_zero_with_the_message_when_the_package_is_aborted(
    live_env: dict[str, str], demo_catalog: Path, no_worker: None, curator_token: str
) -> None:
    process = start_waiting(live_env, demo_catalog / "lims_manifest.csv", "cli-aborted")
    package = wait_for(
        lambda: Package.objects.filter(package_name="cli-aborted").first(), timeout=60
    )
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {curator_token}")
    assert client.patch(f"/api/v1/package/{package.id}:abort").status_code == 200
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 12, stderr
    assert stdout == f"{package.id}\n"
    assert f"error: Package {package.id} was ABORTED" in stderr


def test_ctrl_c_stops_waiting_and_leaves_the_package_to_the_server(
    live_env: dict[str, str], demo_catalog: Path, no_worker: None
) -> None:
    process = start_waiting(live_env, demo_catalog / "lims_manifest.csv", "cli-interrupted")
    assert process.stderr is not None
    assert "Created package" in process.stderr.readline()
    assert "PENDING" in process.stderr.readline()  # waiting: the first progress line
    os.kill(process.pid, signal.SIGINT)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 130, stderr
    package = Package.objects.get(package_name="cli-interrupted")
    assert package.status == PackageStatus.PENDING  # nothing was aborted
    assert f"data-sharing-tool get-package-status --package-id {package.id} --wait" in stderr
