"""Request validation of SPEC §5 (shape and conflicts; no catalog needed)."""

from __future__ import annotations

from typing import Any

import pytest

from datasharing.errors import DomainError, domain_error_status
from packages_app.package_request import (
    REQUEST_FIELDS,
    camel,
    package_name_validate,
    package_request_parse,
)


def problems(data: Any) -> str:
    with pytest.raises(DomainError) as excinfo:
        package_request_parse(data)
    assert domain_error_status(excinfo.value) == 400
    return excinfo.value.message


def test_camel_case_and_snake_case_requests_are_the_same_request() -> None:
    camel_request = package_request_parse(
        {
            "libraryIdList": ["L2400101", "L2400102", "L2400101"],
            "dataTypeList": ["secondaryAnalysis", "fastq"],
            "secondaryAnalysisTypeList": ["tumor-normal"],
            "defrostArchivedFastqs": True,
            "useWorkflowFilters": False,
            "primaryDataPathPrefix": "primary",
            "secondaryAnalysisPathPrefix": "analysis",
        }
    )
    snake_request = package_request_parse(
        {
            "library_id_list": ["L2400101", "L2400102"],
            "data_type_list": ["fastq", "secondaryAnalysis"],
            "secondary_analysis_type_list": ["tumor-normal"],
            "defrost_archived_fastqs": True,
            "use_workflow_filters": False,
            "primary_data_path_prefix": "primary",
            "secondary_analysis_path_prefix": "analysis",
        }
    )
    assert camel_request == snake_request
    assert camel_request.library_id_list == ["L2400101", "L2400102"]
    assert camel_request.data_type_list == ["fastq", "secondaryAnalysis"]


def test_defaults_are_written_out() -> None:
    request = package_request_parse({"projectIdList": ["CUP"], "dataTypeList": ["fastq"]})
    assert request.as_dict() == {
        "project_id_list": ["CUP"],
        "data_type_list": ["fastq"],
        "defrost_archived_fastqs": False,
        "use_workflow_filters": True,
        "primary_data_path_prefix": "fastq",
        "secondary_analysis_path_prefix": "secondary-analysis",
    }


def test_unknown_fields_are_named() -> None:
    message = problems({"libraryIdList": ["L1"], "dataTypeList": ["fastq"], "libraryIds": ["x"]})
    assert "Unknown field(s) in packageRequest: libraryIds" in message


def test_conflicting_metadata_lists_are_named() -> None:
    message = problems(
        {"libraryIdList": ["L1"], "projectIdList": ["CUP"], "dataTypeList": ["fastq"]}
    )
    assert "Conflicting fields" in message
    assert "libraryIdList, projectIdList" in message


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(DomainError) as excinfo:
        package_request_parse(
            {"subjectIdList": "SBJ1", "dataTypeList": ["bam"], "defrostArchivedFastqs": "yes"}
        )
    found = excinfo.value.details["problems"]
    assert any("subjectIdList must be a list of strings" in p for p in found)
    assert any("unknown data type(s) 'bam'" in p for p in found)
    assert any("defrostArchivedFastqs must be true or false" in p for p in found)


def test_data_types_are_required() -> None:
    assert "dataTypeList is required" in problems({"libraryIdList": ["L1"]})
    assert "dataTypeList is required" in problems({"libraryIdList": ["L1"], "dataTypeList": []})


def test_something_must_select_libraries() -> None:
    assert "Select libraries" in problems({"dataTypeList": ["fastq"]})
    assert "Select libraries" in problems({"libraryIdList": [], "dataTypeList": ["fastq"]})


def test_run_only_requests_are_valid() -> None:
    request = package_request_parse(
        {"instrumentRunIdList": ["241101_A01052_0221_AHVTC2DSXC"], "dataTypeList": ["fastq"]}
    )
    assert request.metadata_list is None


@pytest.mark.parametrize(
    "value",
    ["2024111463c05a0", "2024111463C05A04", "../etc/passwd", "x" * 17, ""],
)
def test_malformed_portal_run_ids_are_rejected(value: str) -> None:
    message = problems(
        {
            "libraryIdList": ["L1"],
            "dataTypeList": ["secondaryAnalysis"],
            "portalRunIdList": [value],
        }
    )
    assert "portalRunIdList: not a valid portal run id" in message


def test_portal_runs_need_the_secondary_analysis_data_type() -> None:
    message = problems(
        {
            "libraryIdList": ["L1"],
            "dataTypeList": ["fastq"],
            "portalRunIdList": ["2024111463c05a04"],
        }
    )
    assert "portalRunIdList is given but dataTypeList does not include secondaryAnalysis" in message


def test_portal_runs_and_analysis_types_together_conflict() -> None:
    message = problems(
        {
            "libraryIdList": ["L1"],
            "dataTypeList": ["secondaryAnalysis"],
            "portalRunIdList": ["2024111463c05a04"],
            "secondaryAnalysisTypeList": ["tumor-normal"],
        }
    )
    assert "give portalRunIdList (those runs) or secondaryAnalysisTypeList" in message


def test_too_many_ids_are_refused(settings: Any) -> None:
    settings.PACKAGE_REQUEST_MAX_IDS = 3
    message = problems({"libraryIdList": ["L1", "L2", "L3", "L4"], "dataTypeList": ["fastq"]})
    assert "libraryIdList has 4 entries; at most 3 are allowed" in message


@pytest.mark.parametrize("name", ["CUP-fastqs", "CUP_2025.04+tn", "a1", "Batch-7_final.v2"])
def test_valid_package_names(name: str) -> None:
    assert package_name_validate(name) == name


@pytest.mark.parametrize(
    "name",
    [
        "",
        "a",
        "1package",
        "my package",
        "a/b",
        "../etc",
        "a..b",
        "tab\there",
        "nul\x00",
        "newline\n",
        "ünïcode",
        7,
    ],
)
def test_invalid_package_names(name: Any) -> None:
    with pytest.raises(DomainError) as excinfo:
        package_name_validate(name)
    assert domain_error_status(excinfo.value) == 400
    assert "packageName" in excinfo.value.message


@pytest.mark.parametrize("prefix", ["fastq", "primary", "/", "raw-data", "delivery_2025.1"])
def test_valid_path_prefixes(prefix: str) -> None:
    request = package_request_parse(
        {"libraryIdList": ["L1"], "dataTypeList": ["fastq"], "primaryDataPathPrefix": prefix}
    )
    assert request.primary_data_path_prefix == prefix


@pytest.mark.parametrize(
    "prefix",
    ["a/b", "/fastq", "fastq/", "..", "a..b", "my data", "tab\t", "\x01", "", "//", "fastq\n"],
)
def test_invalid_path_prefixes(prefix: str) -> None:
    message = problems(
        {
            "libraryIdList": ["L1"],
            "dataTypeList": ["secondaryAnalysis"],
            "secondaryAnalysisPathPrefix": prefix,
        }
    )
    assert "secondaryAnalysisPathPrefix" in message and "not a valid path prefix" in message


def test_both_data_types_need_different_prefixes() -> None:
    message = problems(
        {
            "libraryIdList": ["L1"],
            "dataTypeList": ["fastq", "secondaryAnalysis"],
            "primaryDataPathPrefix": "/",
            "secondaryAnalysisPathPrefix": "/",
        }
    )
    assert "primaryDataPathPrefix and secondaryAnalysisPathPrefix must differ" in message
    # One data type: the same prefix is fine.
    package_request_parse(
        {
            "libraryIdList": ["L1"],
            "dataTypeList": ["fastq"],
            "primaryDataPathPrefix": "/",
            "secondaryAnalysisPathPrefix": "/",
        }
    )


def test_request_must_be_an_object() -> None:
    assert "packageRequest must be an object" in problems(["L1"])


def test_documented_fields_are_the_accepted_fields() -> None:
    from packages_app.api import PackageRequestSerializer

    assert {camel(f) for f in PackageRequestSerializer().fields} == {
        camel(f) for f in REQUEST_FIELDS
    }
