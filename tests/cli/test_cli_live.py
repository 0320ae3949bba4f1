"""The installed CLI (a subprocess) against the real app on a live test server.

pytest-django's `live_server` serves the app on a real port with the test database; S3 is the
session's SeaweedFS. The full package -> push -> presign flow is in test_cli_end_to_end.py.
"""

from __future__ import annotations

import csv
import io
import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from catalog_app import demo
from packages_app.models import Package, PackageStatus
from tests.sharing_app.presign_helpers import CONTENTS, fetch, make_download_package, run_script

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
    assert "curators create, push and presign" in viewer.stderr
    unknown = live_cli("presign-package", "--package-id", "pkg.01JD5V7Q3S8K2M4N6P8R0T2V4X")
    assert unknown.returncode == 7, unknown.stderr
    running = Package.objects.create(
        package_name="cli-running", status=PackageStatus.RUNNING, request={}
    )
    refused = live_cli("presign-package", "--package-id", running.id)
    assert refused.returncode == 8, refused.stderr
