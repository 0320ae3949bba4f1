"""Local manifest validation: what the CLI (and `manage.py generate_package`) check before they
send or create anything."""

from __future__ import annotations

from pathlib import Path

import pytest
from data_sharing_formats.identifiers import base_library_id
from data_sharing_formats.manifests import ManifestError, read_lims_manifest, read_workflow_manifest
from data_sharing_formats.package_request import (
    RequestError,
    build_package_request,
    validate_package_name,
)

LIMS_HEADER = "sequencing_run_id,sequencing_run_date,library_id,project_id,coverage,load_datetime"


def write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


def problems_of(exc: pytest.ExceptionInfo[ManifestError]) -> list[str]:
    return [str(problem) for problem in exc.value.problems]


def test_topup_and_rerun_suffixes_belong_to_the_base_library() -> None:
    assert base_library_id("L2400101_topup") == "L2400101"
    assert base_library_id("L2400101_topup2") == "L2400101"
    assert base_library_id("L2400101_rerun") == "L2400101"
    assert base_library_id("L2400101_rerun3") == "L2400101"
    assert base_library_id("L2400101") == "L2400101"
    assert base_library_id("L2400101_topupx") == "L2400101_topupx"


def test_lims_manifest_gives_base_library_ids_and_runs_in_first_seen_order(
    tmp_path: Path,
) -> None:
    path = write(
        tmp_path,
        "lims.csv",
        f"{LIMS_HEADER}\n"
        "RUN_B,2024-11-01,L2,CUP,40,2024-11-01 08:00:00\n"
        "RUN_A,2024-10-24,L1,CUP,80.5,2024-10-24T08:00:00Z\n"
        "RUN_C,2024-11-15,L1_topup,CUP,,\n"
        "RUN_A,2024-10-24,L2_rerun2,CUP,,\n"
        ",,,,,\n",
    )
    lims = read_lims_manifest(path)
    assert lims.library_ids == ["L2", "L1"]
    assert lims.instrument_run_ids == ["RUN_B", "RUN_A", "RUN_C"]
    assert lims.row_count == 4
    assert lims.warnings == []


def test_the_demo_manifests_are_valid(tmp_path: Path) -> None:
    """The manifests `make run` writes (full mart exports and the short one) pass as they are."""
    from catalog_app import demo

    lims_path = write(tmp_path, "lims.csv", demo.lims_csv())
    workflows_path = write(tmp_path, "workflows.csv", demo.workflows_csv(demo.workflow_runs()))
    lims = read_lims_manifest(lims_path)
    assert len(lims.library_ids) == len(demo.LIBRARIES)  # the topup row adds no library
    assert set(lims.instrument_run_ids) == set(demo.RUNS)
    workflows = read_workflow_manifest(workflows_path, lims=lims)
    assert set(workflows.portal_run_ids) == {run.portal_run_id for run in demo.workflow_runs()}
    # The FAILED tumor-normal run is flagged once, not once per library row.
    assert len([w for w in workflows.warnings if "FAILED" in w]) == 1

    demo._write_manifests(tmp_path)
    short = read_lims_manifest(tmp_path / "lims_manifest.csv")
    assert short.instrument_run_ids == []
    assert len(short.library_ids) == 6


def test_header_names_are_case_insensitive_and_unknown_columns_only_warn(tmp_path: Path) -> None:
    path = write(tmp_path, "lims.csv", " Library_ID ,Favourite_Colour\nL1,blue\n")
    lims = read_lims_manifest(path)
    assert lims.library_ids == ["L1"]
    assert lims.warnings == [f"{path}: ignoring unknown column(s): favourite_colour"]


def test_missing_required_column_names_file_line_and_column(tmp_path: Path) -> None:
    path = write(tmp_path, "lims.csv", "libary_id,project_id\nL1,CUP\n")
    with pytest.raises(ManifestError) as exc:
        read_lims_manifest(path)
    assert problems_of(exc) == [f"{path}, line 1, column 'library_id': required column is missing"]


def test_every_bad_value_is_reported_with_its_row_and_column(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "lims.csv",
        f"{LIMS_HEADER}\n"
        "RUN_A,2024-13-01,L1,CUP,40,2024-10-24 08:00:00\n"
        "RUN A,2024-10-24,L2,CUP,-1,yesterday\n"
        "RUN_A,2024-10-24,,CUP,,\n"
        "RUN_A,2024-10-24,L 4,CUP,,\n",
    )
    with pytest.raises(ManifestError) as exc:
        read_lims_manifest(path)
    assert problems_of(exc) == [
        f"{path}, line 2 (row 1), column 'sequencing_run_date': '2024-13-01' is not a valid date (YYYY-MM-DD)",
        f"{path}, line 3 (row 2), column 'sequencing_run_id': 'RUN A' is not a valid instrument run id",
        f"{path}, line 3 (row 2), column 'load_datetime': 'yesterday' is not a valid date-time",
        f"{path}, line 3 (row 2), column 'coverage': '-1' is not a valid non-negative number",
        f"{path}, line 4 (row 3), column 'library_id': a value is required",
        f"{path}, line 5 (row 4), column 'library_id': 'L 4' is not a valid library id",
    ]


def test_a_row_without_a_run_is_refused_when_other_rows_name_runs(tmp_path: Path) -> None:
    path = write(tmp_path, "lims.csv", "library_id,sequencing_run_id\nL1,RUN_A\nL2,\n")
    with pytest.raises(ManifestError) as exc:
        read_lims_manifest(path)
    [problem] = exc.value.problems
    assert (problem.line, problem.column) == (3, "sequencing_run_id")
    # Without any run the libraries' FASTQs of every run are asked for.
    path = write(tmp_path, "lims2.csv", "library_id,sequencing_run_id\nL1,\nL2,\n")
    assert read_lims_manifest(path).instrument_run_ids == []


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", "line 1: the file is empty"),
        (b"  \n\n", "line 1: the file is empty"),
        (b"library_id\n", "line 2 (row 1): the file has a header but no rows"),
        (b"library_id\nL1\n\xff\xfe\n", "line 3 (row 2): the file is not UTF-8 text"),
        (b"library_id,project_id\nL1,CUP,extra\n", "line 2 (row 1): expected 2 fields, found 3"),
        (b"library_id,library_id\nL1,L1\n", "line 1, column 'library_id': column appears more"),
        (b'library_id\n"L1\n', "bad CSV"),
        (b"library_id\nL1\x07\n", "column 'library_id': value is too long or contains control"),
    ],
)
def test_malformed_files_are_refused(tmp_path: Path, content: bytes, expected: str) -> None:
    path = write(tmp_path, "lims.csv", content)
    with pytest.raises(ManifestError) as exc:
        read_lims_manifest(path)
    assert expected in problems_of(exc)[0], problems_of(exc)
    assert problems_of(exc)[0].startswith(str(path))


def test_missing_file_is_reported() -> None:
    with pytest.raises(ManifestError) as exc:
        read_lims_manifest(Path("/nonexistent/lims.csv"))
    assert problems_of(exc) == ["/nonexistent/lims.csv: file not found"]


def test_a_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    path = write(tmp_path, "lims.csv", "\ufefflibrary_id\nL1\n".encode())
    assert read_lims_manifest(path).library_ids == ["L1"]


def test_problems_stop_after_fifty(tmp_path: Path) -> None:
    path = write(tmp_path, "lims.csv", "library_id\n" + "bad id\n" * 200)
    with pytest.raises(ManifestError) as exc:
        read_lims_manifest(path)
    assert len(exc.value.problems) == 51
    assert "more than 50 problems" in str(exc.value.problems[-1])


def lims_of(tmp_path: Path, *library_ids: str) -> Path:
    return write(tmp_path, "lims.csv", "library_id\n" + "".join(f"{i}\n" for i in library_ids))


def test_workflow_manifest_libraries_must_be_in_the_lims_manifest(tmp_path: Path) -> None:
    lims = read_lims_manifest(lims_of(tmp_path, "L1", "L2_topup"))
    path = write(
        tmp_path,
        "workflows.csv",
        "portal_run_id,library_id,workflow_name\n"
        "20241026aaaaaaaa,L1_rerun,tumor-normal\n"
        "20241026aaaaaaaa,L2,tumor-normal\n"
        "20241027bbbbbbbb,L3,wts\n",
    )
    with pytest.raises(ManifestError) as exc:
        read_workflow_manifest(path, lims=lims)
    assert problems_of(exc) == [
        f"{path}, line 4 (row 3), column 'library_id': library 'L3' is not in the LIMS "
        f"manifest {tmp_path / 'lims.csv'}"
    ]


def test_workflow_manifest_checks_portal_run_ids_names_dates_and_durations(tmp_path: Path) -> None:
    lims = read_lims_manifest(lims_of(tmp_path, "L1"))
    path = write(
        tmp_path,
        "workflows.csv",
        "portal_run_id,library_id,workflow_name,workflow_start,workflow_end,workflow_duration\n"
        "20241026AAAAAAAA,L1,tumor-normal,2024-10-26T02:00:00Z,2024-10-26T09:00:00Z,25200\n"
        "20241026aaaaaaaa,L1,tumor normal,2024-10-26,soon,-5\n"
        "20241026aaaaaaaa,L1,wts,2024-10-26T02:00:00+10:00,,1.5e3\n",
    )
    with pytest.raises(ManifestError) as exc:
        read_workflow_manifest(path, lims=lims)
    assert [(p.line, p.column) for p in exc.value.problems] == [
        (2, "portal_run_id"),
        (3, "workflow_name"),
        (3, "workflow_end"),
        (3, "workflow_duration"),
    ]
    assert "YYYYMMDD + 8 lower-case hex" in problems_of(exc)[0]


def test_package_request_matches_the_predecessor_fields(tmp_path: Path) -> None:
    lims = read_lims_manifest(
        write(tmp_path, "lims.csv", "library_id,sequencing_run_id\nL1,RUN_A\nL1_topup,RUN_B\n")
    )
    workflows = read_workflow_manifest(
        write(tmp_path, "wf.csv", "portal_run_id,library_id\n20241026aaaaaaaa,L1\n"), lims=lims
    )
    assert build_package_request(lims=lims, workflow=None) == {
        "libraryIdList": ["L1"],
        "instrumentRunIdList": ["RUN_A", "RUN_B"],
        "dataTypeList": ["fastq"],
        "defrostArchivedFastqs": False,
        "useWorkflowFilters": True,
        "primaryDataPathPrefix": "fastq",
        "secondaryAnalysisPathPrefix": "secondary-analysis",
    }
    request = build_package_request(
        lims=lims,
        workflow=workflows,
        exclude_primary_data=True,
        defrost_archived_fastqs=True,
        use_workflow_filters=False,
        secondary_analysis_path_prefix="/",
    )
    assert request["dataTypeList"] == ["secondaryAnalysis"]
    assert request["portalRunIdList"] == ["20241026aaaaaaaa"]
    assert request["defrostArchivedFastqs"] is True
    assert request["useWorkflowFilters"] is False
    assert request["secondaryAnalysisPathPrefix"] == "/"


def test_flags_that_make_no_sense_together_are_refused(tmp_path: Path) -> None:
    lims = read_lims_manifest(lims_of(tmp_path, "L1"))
    workflows = read_workflow_manifest(
        write(tmp_path, "wf.csv", "portal_run_id,library_id\n20241026aaaaaaaa,L1\n"), lims=lims
    )
    with pytest.raises(RequestError, match="needs --workflow-manifest-csv"):
        build_package_request(lims=lims, workflow=None, exclude_primary_data=True)
    with pytest.raises(RequestError, match="must differ"):
        build_package_request(
            lims=lims,
            workflow=workflows,
            primary_data_path_prefix="/",
            secondary_analysis_path_prefix="/",
        )
    # One data type: the root prefix is fine.
    assert build_package_request(lims=lims, workflow=None, primary_data_path_prefix="/")


@pytest.mark.parametrize("name", ["cup-2024", "Ab", "a.b+c_d-1"])
def test_valid_package_names(name: str) -> None:
    assert validate_package_name(name) == name


@pytest.mark.parametrize(
    "name", ["bad name", "1abc", "a/b", "../x", "a\tb", "", "-x", "A", "caf\u00e9", "a" * 256]
)
def test_invalid_package_names(name: str) -> None:
    with pytest.raises(RequestError, match="invalid"):
        validate_package_name(name)
