"""The package request built from the manifests: the `packageRequest` JSON of the API.

The CLI sends it; the service's `manage.py generate_package` creates the package from it. The
service validates it again (`packages_app.package_request`); these checks are the ones that do
not need the catalog, so a bad flag fails before anything is sent.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from data_sharing_formats.identifiers import PACKAGE_NAME_MAX_LENGTH, PACKAGE_NAME_RE
from data_sharing_formats.manifests import LimsManifest, WorkflowManifest

PRIMARY_DATA_PATH_PREFIXES = ("fastq", "primary", "/")
SECONDARY_ANALYSIS_PATH_PREFIXES = ("secondary-analysis", "analysis", "/")


class RequestError(ValueError):
    """Flags that do not make a valid request (independent of the manifests' contents)."""


def validate_package_name(name: str) -> str:
    if len(name) > PACKAGE_NAME_MAX_LENGTH or not PACKAGE_NAME_RE.fullmatch(name) or ".." in name:
        raise RequestError(
            f"package name {name!r} is invalid: start with a letter, then letters, digits, "
            "'_', '.', '+' or '-' (no spaces, '/' or '..'), at most 255 characters"
        )
    return name


def build_package_request(
    *,
    lims: LimsManifest,
    workflow: WorkflowManifest | None,
    exclude_primary_data: bool = False,
    defrost_archived_fastqs: bool = False,
    use_workflow_filters: bool = True,
    primary_data_path_prefix: str = "fastq",
    secondary_analysis_path_prefix: str = "secondary-analysis",
    secondary_analysis_types: Sequence[str] = (),
) -> dict[str, Any]:
    """The `packageRequest` JSON (camelCase) the predecessor's CLI sent for the same inputs.

    `secondary_analysis_types` (workflow names; the server's `generate_package
    --secondary-analysis-type`) adds the latest successful run of each per library."""
    with_secondary = workflow is not None or bool(secondary_analysis_types)
    if exclude_primary_data and not with_secondary:
        raise RequestError(
            "--exclude-primary-data needs --workflow-manifest-csv (otherwise nothing is shared)"
        )
    if primary_data_path_prefix not in PRIMARY_DATA_PATH_PREFIXES:
        raise RequestError(f"unknown primary data path prefix {primary_data_path_prefix!r}")
    if secondary_analysis_path_prefix not in SECONDARY_ANALYSIS_PATH_PREFIXES:
        raise RequestError(
            f"unknown secondary analysis path prefix {secondary_analysis_path_prefix!r}"
        )
    data_types = ([] if exclude_primary_data else ["fastq"]) + (
        ["secondaryAnalysis"] if with_secondary else []
    )
    if len(data_types) == 2 and primary_data_path_prefix == secondary_analysis_path_prefix:
        raise RequestError(
            "--primary-data-path-prefix and --secondary-analysis-path-prefix are both "
            f"{primary_data_path_prefix!r}: with FASTQs and secondary analyses in one package they "
            "must differ"
        )
    request: dict[str, Any] = {
        "libraryIdList": lims.library_ids,
        "dataTypeList": data_types,
        "defrostArchivedFastqs": defrost_archived_fastqs,
        "useWorkflowFilters": use_workflow_filters,
        "primaryDataPathPrefix": primary_data_path_prefix,
        "secondaryAnalysisPathPrefix": secondary_analysis_path_prefix,
    }
    if lims.instrument_run_ids:
        request["instrumentRunIdList"] = lims.instrument_run_ids
    if workflow is not None:
        request["portalRunIdList"] = workflow.portal_run_ids
    if secondary_analysis_types:
        request["secondaryAnalysisTypeList"] = list(dict.fromkeys(secondary_analysis_types))
    return request
