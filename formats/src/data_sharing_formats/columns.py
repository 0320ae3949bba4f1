"""Columns of the LIMS and workflow "mart" exports, defined once.

The service's catalog importers require `LIMS_COLUMNS` / `WORKFLOW_COLUMNS` (and accept the
optional ones); the CLI's manifests are the same exports, of which it needs fewer columns (see
`data_sharing_formats.manifests`).
"""

from __future__ import annotations

LIMS_COLUMNS = (
    "sequencing_run_id",
    "sequencing_run_date",
    "library_id",
    "internal_subject_id",
    "external_subject_id",
    "sample_id",
    "external_sample_id",
    "experiment_id",
    "project_id",
    "owner_id",
    "workflow",
    "phenotype",
    "type",
    "assay",
    "quality",
    "source",
    "truseq_index",
    "load_datetime",
    "partition_schema_name",
    "partition_name",
)
LIMS_OPTIONAL_COLUMNS = ("individual_id", "coverage")

WORKFLOW_COLUMNS = (
    "portal_run_id",
    "library_id",
    "workflow_name",
    "workflow_version",
    "workflow_status",
    "workflow_start",
    "workflow_end",
    "workflow_duration",
    "workflow_comment",
    "partition_schema_name",
    "partition_name",
)
WORKFLOW_OPTIONAL_COLUMNS = ("output_uri",)
