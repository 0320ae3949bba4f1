"""`manage.py generate_package` with the predecessor's manifests.

The manifests are parsed by the package the CLI uses too, `data_sharing_formats` (its format tests
are in tests/formats/test_manifests.py); these tests check the command: that it gives the request
the CLI gives, waits, and fails cleanly.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from data_sharing_formats.manifests import read_lims_manifest, read_workflow_manifest
from data_sharing_formats.package_request import build_package_request
from django.core.management import call_command
from django.core.management.base import CommandError

from catalog_app import demo
from packages_app.models import Package, PackageStatus
from tests.packages_app.conftest import RUN_2

TN_SUBJECT_1 = demo.portal_run_id("2024-11-03", "SBJ00102tn")


def rows_of(path: Path, **match: str) -> str:
    """The header and the rows of a demo CSV whose columns have the given values."""
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=reader.fieldnames or [], lineterminator="\n")
        writer.writeheader()
        for row in reader:
            if all(row[k] == v for k, v in match.items()):
                writer.writerow(row)
    return out.getvalue()


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("generate_package", *args, stdout=out)
    return out.getvalue()


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


# --- The command ---------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_generate_package_from_a_lims_mart_export_and_wait(
    demo_catalog: Path, tmp_path: Path
) -> None:
    lims = write(
        tmp_path, "lims.csv", rows_of(demo_catalog / "lims.csv", internal_subject_id="SBJ00102")
    )
    workflows = write(
        tmp_path,
        "workflows.csv",
        rows_of(demo_catalog / "workflows.csv", portal_run_id=TN_SUBJECT_1),
    )
    output = run(
        "--package-name",
        "SBJ00102-tn",
        "--lims-manifest-csv",
        lims,
        "--workflow-manifest-csv",
        workflows,
        "--wait",
        "--poll-interval",
        "0.05",
    )
    package = Package.objects.get()
    assert package.status == PackageStatus.SUCCEEDED, package.error_message
    assert (
        f"Generating package '{package.id}' (SBJ00102-tn): 3 library id(s) on 1 instrument "
        "run(s), 1 workflow run(s)" in output
    )
    assert f"Package '{package.id}' SUCCEEDED: 3 libraries, {package.file_count} files" in output
    assert package.request["portal_run_id_list"] == [TN_SUBJECT_1]
    assert package.workflow_run_count == 1
    assert package.fastq_count == 5


@pytest.mark.django_db(transaction=True)
def test_generate_package_wait_fails_with_the_error(demo_catalog: Path, tmp_path: Path) -> None:
    lims = write(tmp_path, "lims.csv", "library_id\nL2400105\n")
    with pytest.raises(CommandError) as excinfo:
        run(
            "--package-name",
            "nothing-here",
            "--lims-manifest-csv",
            lims,
            "--exclude-primary-data",
            "--secondary-analysis-type",
            "wts",
            "--wait",
            "--poll-interval",
            "0.05",
        )
    assert "FAILED: The request matches no files" in str(excinfo.value)


@pytest.mark.django_db(transaction=True)
def test_generate_package_wait_shows_unarchiving_progress_and_times_out(
    moto_bucket: Callable[[str], str], moto_restores_one_step_per_read: None, tmp_path: Path
) -> None:
    from tests.packages_app.facility import build_facility

    facility = build_facility(
        bucket=moto_bucket("cmd"), pairs=1, fastq_storage_class="DEEP_ARCHIVE", workers=2
    )
    lims = write(tmp_path, "lims.csv", f"library_id\n{facility.pairs[0].tumor}\n")
    out = io.StringIO()
    with pytest.raises(CommandError) as excinfo:
        call_command(
            "generate_package",
            "--package-name",
            "frozen-fastqs",
            "--lims-manifest-csv",
            lims,
            "--defrost-archived-fastqs",
            "--wait",
            "--poll-interval",
            "0.05",
            "--timeout",
            "0.2",
            stdout=out,
        )
    assert "UNARCHIVING (waiting-for-restores): 0 of 2 archived file(s) restored" in out.getvalue()
    assert "is still UNARCHIVING after 0.2 s" in str(excinfo.value)


@pytest.mark.django_db
def test_generate_package_dry_run_sends_the_request_the_cli_sends(
    demo_catalog: Path, tmp_path: Path
) -> None:
    lims_path = demo_catalog / "lims_manifest.csv"
    workflows = write(
        tmp_path,
        "workflows.csv",
        rows_of(demo_catalog / "workflows.csv", portal_run_id=TN_SUBJECT_1),
    )
    lims_path = Path(
        write(
            tmp_path, "lims.csv", rows_of(demo_catalog / "lims.csv", internal_subject_id="SBJ00102")
        )
    )
    output = run(
        "--package-name",
        "preview",
        "--lims-manifest-csv",
        str(lims_path),
        "--workflow-manifest-csv",
        workflows,
        "--no-use-workflow-file-filters",
        "--dry-run",
    )
    answer = json.loads(output)
    lims = read_lims_manifest(lims_path)
    cli_request = build_package_request(
        lims=lims,
        workflow=read_workflow_manifest(Path(workflows), lims=lims),
        use_workflow_filters=False,
    )
    sent = answer["package_request"]
    assert sent["library_id_list"] == cli_request["libraryIdList"]
    assert sent["instrument_run_id_list"] == cli_request["instrumentRunIdList"]
    assert sent["portal_run_id_list"] == cli_request["portalRunIdList"] == [TN_SUBJECT_1]
    assert sent["data_type_list"] == cli_request["dataTypeList"]
    assert sent["use_workflow_filters"] is False
    assert Package.objects.count() == 0


@pytest.mark.django_db
def test_the_demo_manifest_packages_six_libraries_with_nothing_archived(
    demo_catalog: Path,
) -> None:
    answer = json.loads(
        run(
            "--package-name",
            "preview",
            "--lims-manifest-csv",
            str(demo_catalog / "lims_manifest.csv"),
            "--dry-run",
        )
    )
    assert answer["library_count"] == 6
    assert answer["archived_file_count"] == 0
    assert answer["file_count"] > 0
    assert Package.objects.count() == 0


@pytest.mark.django_db
def test_generate_package_bad_input_is_a_command_error(demo_catalog: Path, tmp_path: Path) -> None:
    with pytest.raises(CommandError, match=r"missing\.csv: file not found"):
        run("--package-name", "x1", "--lims-manifest-csv", str(tmp_path / "missing.csv"))
    no_library = write(tmp_path, "subjects.csv", "subject_id\nSBJ00102\n")
    with pytest.raises(CommandError, match="line 1, column 'library_id': required column"):
        run("--package-name", "x1", "--lims-manifest-csv", no_library)
    bad_row = write(tmp_path, "bad.csv", "library_id\nL2400105\nL 2400106\n")
    with pytest.raises(CommandError, match=r"line 3 \(row 2\), column 'library_id'"):
        run("--package-name", "x1", "--lims-manifest-csv", bad_row)
    lims = write(tmp_path, "lims.csv", "library_id\nL2400105\nL0000000\n")
    with pytest.raises(CommandError, match=r"Unknown ids in the request: libraryIdList: L0000000"):
        run("--package-name", "x1", "--lims-manifest-csv", lims)
    with pytest.raises(CommandError, match="packageName"):
        run("--package-name", "bad name", "--lims-manifest-csv", lims)
    with pytest.raises(CommandError, match="needs --workflow-manifest-csv"):
        run("--package-name", "x1", "--lims-manifest-csv", lims, "--exclude-primary-data")
    with pytest.raises(CommandError, match="No user 'nobody'"):
        run("--package-name", "x1", "--lims-manifest-csv", lims, "--requested-by", "nobody")
    assert Package.objects.count() == 0


@pytest.mark.django_db
def test_generate_package_records_the_requester_and_options(
    demo_catalog: Path, tmp_path: Path, curator: Any, django_capture_on_commit_callbacks: Any
) -> None:
    lims = write(tmp_path, "runs.csv", rows_of(demo_catalog / "lims.csv", sequencing_run_id=RUN_2))
    with django_capture_on_commit_callbacks(execute=True):
        run(
            "--package-name",
            "whole-run",
            "--lims-manifest-csv",
            lims,
            "--primary-data-path-prefix",
            "primary",
            "--requested-by",
            curator.username,
        )
    package = Package.objects.get()
    assert package.requested_by == curator
    assert package.request["instrument_run_id_list"] == [RUN_2]
    assert package.request["primary_data_path_prefix"] == "primary"
    assert package.status == PackageStatus.SUCCEEDED, package.error_message
    assert package.library_count == len(
        {lib.library_id for lib in demo.LIBRARIES if lib.run_id == RUN_2}
    )
