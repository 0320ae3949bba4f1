"""`manage.py generate_package` with the predecessor's manifests."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from catalog_app import demo
from datasharing.errors import DomainError
from packages_app.manifests import lims_manifest_parse, package_request_from_manifests
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


# --- Manifest formats (no database) -------------------------------------------------------------


def test_lims_mart_export_selects_by_library_id_and_ignores_other_columns() -> None:
    text = "sequencing_run_id,library_id,internal_subject_id,project_id,extra\n" + (
        f"{RUN_2},L2400104,SBJ00102,CUP,x\n{RUN_2},L2400105,SBJ00102,CUP,y\n"
        f"{RUN_2},L2400104,SBJ00102,CUP,z\n"
    )
    selection = lims_manifest_parse(text)
    assert selection.fields == {"libraryIdList": ["L2400104", "L2400105"]}
    restricted = lims_manifest_parse(text, restrict_to_runs=True)
    assert restricted.fields["instrumentRunIdList"] == [RUN_2]


@pytest.mark.parametrize(
    ("header", "field"),
    [
        ("subject_id", "subjectIdList"),
        ("internal_subject_id", "subjectIdList"),
        ("individual_id", "individualIdList"),
        ("project_id", "projectIdList"),
        ("instrument_run_id", "instrumentRunIdList"),
        ("sequencing_run_id", "instrumentRunIdList"),
    ],
)
def test_lims_manifest_id_columns(header: str, field: str) -> None:
    value = RUN_2 if "run" in header else "ID1"
    assert lims_manifest_parse(f"{header}\n{value}\n{value}\n").fields == {field: [value]}


def test_an_empty_library_id_column_falls_through_to_the_next_one() -> None:
    selection = lims_manifest_parse("library_id,subject_id\n,SBJ00102\n,SBJ00103\n")
    assert selection.fields == {"subjectIdList": ["SBJ00102", "SBJ00103"]}


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("", "empty"),
        ("sample_name\nX\n", "line 1: the LIMS manifest needs one of the columns"),
        ("library_id\nL2400104\nL 2400105\n", "line 3, column 'library_id'"),
        ("library_id\n", "has a header but no rows"),
        (
            "library_id,project_id\nL2400104,CUP\n,CUP\n",
            "line 3, column 'library_id': value is required",
        ),
        ("instrument_run_id\nbad/run\n", "line 2, column 'instrument_run_id'"),
    ],
)
def test_bad_lims_manifests_name_line_and_column(text: str, where: str) -> None:
    with pytest.raises(DomainError) as excinfo:
        package_request_from_manifests(lims_text=text)
    assert where in str(excinfo.value)


def test_workflow_manifest_gives_portal_runs_and_secondary_analysis() -> None:
    request, description = package_request_from_manifests(
        lims_text="library_id\nL2400104\nL2400105\n",
        workflow_text=f"portal_run_id,library_id,workflow_name\n{TN_SUBJECT_1},L2400104,tn\n"
        f"{TN_SUBJECT_1},L2400105_topup,tn\n",
        exclude_primary_data=True,
        use_workflow_filters=False,
        secondary_analysis_path_prefix="analysis",
    )
    assert request == {
        "libraryIdList": ["L2400104", "L2400105"],
        "portalRunIdList": [TN_SUBJECT_1],
        "dataTypeList": ["secondaryAnalysis"],
        "defrostArchivedFastqs": False,
        "useWorkflowFilters": False,
        "secondaryAnalysisPathPrefix": "analysis",
    }
    assert description == "2 library id(s), 1 workflow run(s)"


def test_workflow_manifest_libraries_must_be_in_the_lims_manifest() -> None:
    with pytest.raises(DomainError) as excinfo:
        package_request_from_manifests(
            lims_text="library_id\nL2400104\n",
            workflow_text=f"portal_run_id,library_id\n{TN_SUBJECT_1},L2400104\n"
            f"{TN_SUBJECT_1},L2400199\n",
        )
    assert "line 3, column 'library_id': library 'L2400199'" in str(excinfo.value)


def test_excluding_primary_data_without_secondary_is_an_error() -> None:
    with pytest.raises(DomainError, match="Nothing to package"):
        package_request_from_manifests(lims_text="library_id\nL1\n", exclude_primary_data=True)


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
        f"Generating package '{package.id}' (SBJ00102-tn): 3 library id(s), 1 workflow run(s)"
        in output
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
def test_generate_package_dry_run_creates_nothing(demo_catalog: Path, tmp_path: Path) -> None:
    output = run(
        "--package-name",
        "preview",
        "--lims-manifest-csv",
        str(demo_catalog / "lims_manifest.csv"),
        "--dry-run",
    )
    answer = json.loads(output)
    assert answer["library_count"] == 6
    assert answer["package_request"]["library_id_list"][0] == "L2400101"
    assert Package.objects.count() == 0


@pytest.mark.django_db
def test_generate_package_bad_input_is_a_command_error(demo_catalog: Path, tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="No such file"):
        run("--package-name", "x1", "--lims-manifest-csv", str(tmp_path / "missing.csv"))
    lims = write(tmp_path, "lims.csv", "library_id\nL2400105\nL0000000\n")
    with pytest.raises(CommandError, match=r"Unknown ids in the request: libraryIdList: L0000000"):
        run("--package-name", "x1", "--lims-manifest-csv", lims)
    with pytest.raises(CommandError, match="packageName"):
        run("--package-name", "bad name", "--lims-manifest-csv", lims)
    with pytest.raises(CommandError, match="No user 'nobody'"):
        run("--package-name", "x1", "--lims-manifest-csv", lims, "--requested-by", "nobody")
    assert Package.objects.count() == 0


@pytest.mark.django_db
def test_generate_package_records_the_requester_and_options(
    demo_catalog: Path, tmp_path: Path, curator: Any, django_capture_on_commit_callbacks: Any
) -> None:
    lims = write(tmp_path, "runs.csv", f"instrument_run_id\n{RUN_2}\n")
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
    assert package.library_count == sum(1 for lib in demo.LIBRARIES if lib.run_id == RUN_2)
