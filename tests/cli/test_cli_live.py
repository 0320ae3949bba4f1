"""The installed CLI (a subprocess) against the real app on a live test server.

pytest-django's `live_server` serves the app on a real port with the test database; S3 is the
session's SeaweedFS; packaging and pushes run in a real Celery worker on Redis (`celery_worker`)
unless a test needs a job that nobody works on (`no_worker`).
"""

from __future__ import annotations

import csv
import io
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from catalog_app import demo
from packages_app.models import Package

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
