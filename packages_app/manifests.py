"""Package requests from the predecessor's CLI manifests (`generate_package` reads them).

LIMS manifest: a CSV with a header. The first of these columns that has values selects the
libraries: `library_id`, `subject_id` (or `internal_subject_id`, then `external_subject_id`),
`individual_id`, `project_id`. An export of the LIMS "mart" table (every column of
`import_lims`) works as is: its `library_id` column is used. `instrument_run_id` (or the mart's
`sequencing_run_id`) restricts the libraries to FASTQs on those runs only when no id column
above has values (a run-only request) or when asked to (`restrict_to_runs`). Other columns are
ignored. Library ids may carry `_topup` / `_rerun` suffixes.

Workflow manifest: a CSV with a `portal_run_id` column (an export of the workflow "mart" table
works as is); those runs are packaged as secondary analysis. When it has a `library_id` column and
the LIMS manifest selects by library id, every library must be in the LIMS manifest.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from catalog_app.services import INSTRUMENT_RUN_ID_RE, PORTAL_RUN_ID_RE, base_library_id
from datasharing.csvfile import read_csv
from datasharing.errors import DomainError
from packages_app.package_request import ID_PATTERNS, snake

# Column -> request field, in order of precedence.
LIMS_ID_COLUMNS = (
    ("library_id", "libraryIdList"),
    ("subject_id", "subjectIdList"),
    ("internal_subject_id", "subjectIdList"),
    ("external_subject_id", "subjectIdList"),
    ("individual_id", "individualIdList"),
    ("project_id", "projectIdList"),
)
RUN_COLUMNS = ("instrument_run_id", "sequencing_run_id")


@dataclass
class ManifestSelection:
    fields: dict[str, list[str]]
    description: str


def _unique(values: list[str]) -> list[str]:
    return list(dict.fromkeys(values))


def lims_manifest_parse(text: str, *, restrict_to_runs: bool = False) -> ManifestSelection:
    rows = list(read_csv(text, required=(), allow_unknown=True, name="LIMS manifest"))
    columns = set(rows[0].values) if rows else set()
    present = [(c, f) for c, f in LIMS_ID_COLUMNS if c in columns]
    run_column = next((c for c in RUN_COLUMNS if c in columns), None)
    if not present and run_column is None:
        names = [c for c, _ in LIMS_ID_COLUMNS] + list(RUN_COLUMNS)
        raise DomainError(
            f"line 1: the LIMS manifest needs one of the columns {', '.join(names)}.",
            details={"line": 1, "column": None},
        )
    fields: dict[str, list[str]] = {}
    description = ""
    chosen = next(((c, f) for c, f in present if any(r.get(c) for r in rows)), None)
    if chosen is not None:
        column, field = chosen
        values = []
        pattern, what = ID_PATTERNS[snake(field)]
        for row in rows:
            value = row.required(column)
            if not pattern.match(value):
                raise row.error(column, f"{value!r} is not a valid {what}")
            values.append(value)
        fields[field] = _unique(values)
        description = f"{len(fields[field])} {column.replace('_', ' ')}(s)"
    if run_column is not None and (chosen is None or restrict_to_runs):
        runs = []
        for row in rows:
            value = row.required(run_column)
            if not INSTRUMENT_RUN_ID_RE.match(value):
                raise row.error(run_column, f"{value!r} is not a valid instrument run id")
            runs.append(value)
        fields["instrumentRunIdList"] = _unique(runs)
        description = (description + " on " if description else "every library on ") + (
            f"{len(fields['instrumentRunIdList'])} instrument run(s)"
        )
    elif chosen is None:
        raise DomainError(
            "line 2: the LIMS manifest has no ids in its id columns.",
            details={"line": 2, "column": present[0][0] if present else None},
        )
    return ManifestSelection(fields=fields, description=description)


def workflow_manifest_parse(text: str, *, lims: ManifestSelection) -> list[str]:
    """Portal run ids of a workflow manifest (validated, in file order, de-duplicated)."""
    rows = list(
        read_csv(text, required=("portal_run_id",), allow_unknown=True, name="workflow manifest")
    )
    libraries = {base_library_id(i) for i in lims.fields.get("libraryIdList", [])}
    portal_run_ids = []
    for row in rows:
        portal_run_id = row.required("portal_run_id")
        if not PORTAL_RUN_ID_RE.match(portal_run_id):
            raise row.error(
                "portal_run_id",
                f"{portal_run_id!r} is not a portal run id (YYYYMMDD + 8 hex characters)",
            )
        library_id = row.get("library_id")
        if libraries and library_id and base_library_id(library_id) not in libraries:
            raise row.error(
                "library_id",
                f"library {library_id!r} of portal run {portal_run_id} is not in the LIMS manifest",
            )
        portal_run_ids.append(portal_run_id)
    return _unique(portal_run_ids)


def package_request_from_manifests(
    *,
    lims_text: str,
    workflow_text: str | None = None,
    exclude_primary_data: bool = False,
    defrost_archived_fastqs: bool = False,
    use_workflow_filters: bool = True,
    primary_data_path_prefix: str | None = None,
    secondary_analysis_path_prefix: str | None = None,
    secondary_analysis_types: list[str] | None = None,
    restrict_to_runs: bool = False,
) -> tuple[dict[str, Any], str]:
    """The package request (camelCase, as the API takes it) and a one-line description."""
    lims = lims_manifest_parse(lims_text, restrict_to_runs=restrict_to_runs)
    request: dict[str, Any] = dict(lims.fields)
    description = lims.description
    data_types = [] if exclude_primary_data else ["fastq"]
    if workflow_text is not None:
        request["portalRunIdList"] = workflow_manifest_parse(workflow_text, lims=lims)
        description += f", {len(request['portalRunIdList'])} workflow run(s)"
    if secondary_analysis_types:
        request["secondaryAnalysisTypeList"] = secondary_analysis_types
        description += f", latest {', '.join(secondary_analysis_types)}"
    if workflow_text is not None or secondary_analysis_types:
        data_types.append("secondaryAnalysis")
    if not data_types:
        raise DomainError(
            "Nothing to package: --exclude-primary-data leaves no data type; give a workflow "
            "manifest or secondary analysis types."
        )
    request["dataTypeList"] = data_types
    request["defrostArchivedFastqs"] = defrost_archived_fastqs
    request["useWorkflowFilters"] = use_workflow_filters
    if primary_data_path_prefix is not None:
        request["primaryDataPathPrefix"] = primary_data_path_prefix
    if secondary_analysis_path_prefix is not None:
        request["secondaryAnalysisPathPrefix"] = secondary_analysis_path_prefix
    return request, description
