"""Importers take records: records read from a file and records built from values (as platform
events build them) are the same records, and importing either gives the same catalog."""

from __future__ import annotations

import csv
import dataclasses
import io
from collections.abc import Callable
from typing import Any

import pytest
from data_sharing_formats.columns import LIMS_COLUMNS, WORKFLOW_COLUMNS
from django.forms.models import model_to_dict

from catalog_app.importers.fastq_list import (
    catalog_import_fastq_list,
    fastq_list_base,
    fastq_list_records_from_csv,
    fastq_record,
)
from catalog_app.importers.lims import catalog_import_lims, lims_record, lims_records_from_csv
from catalog_app.importers.workflows import (
    catalog_import_workflows,
    workflow_record,
    workflow_records_from_csv,
)
from catalog_app.models import Fastq, Library, LibraryRun, Project, StoredObject, WorkflowRun
from datasharing import s3
from datasharing.csvfile import RecordValues
from datasharing.errors import DomainError
from tests.catalog_app.test_import_lims import lims_file, lims_row
from tests.catalog_app.test_import_workflows_and_fastqs import WF_HEADER, _fastq_list, wf_row

pytestmark = pytest.mark.django_db

RUN_ID = "241024_A00130_0336_BHW7MVDSXC"


def rows_of(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def without_line(record: Any) -> Any:
    return dataclasses.replace(record, line=None)


def snapshot(*models: Any) -> dict[str, list[dict[str, Any]]]:
    return {
        model.__name__: [model_to_dict(obj) for obj in model.objects.order_by("pk")]
        for model in models
    }


def test_lims_records_built_from_values_equal_those_read_from_the_file() -> None:
    text = lims_file(
        lims_row(),
        lims_row(library_id="L2401544_topup", sequencing_run_id="241101_A01052_0221_AHVTC2DSXC"),
        lims_row(library_id="L2401545", phenotype="normal", project_id="PanCan"),
    )
    from_file = lims_records_from_csv(text)
    from_values = [lims_record(RecordValues(values=row)) for row in rows_of(text)]
    assert [r.line for r in from_file] == [2, 3, 4]
    assert [without_line(r) for r in from_file] == from_values

    first = catalog_import_lims(records=from_values)
    assert first.as_dict() == {"created": 3, "updated": 0, "unchanged": 0}
    before = snapshot(Library, LibraryRun, Project)
    again = catalog_import_lims(records=from_file)
    assert again.as_dict() == {"created": 0, "updated": 0, "unchanged": 3}
    assert snapshot(Library, LibraryRun, Project) == before


def test_workflow_records_built_from_values_equal_those_read_from_the_file() -> None:
    catalog_import_lims(
        records=lims_records_from_csv(
            lims_file(lims_row(), lims_row(library_id="L2401545", phenotype="normal"))
        )
    )
    text = "\n".join([WF_HEADER, wf_row(), wf_row(library_id="L2401545")]) + "\n"
    from_file = workflow_records_from_csv(text)
    from_values = [workflow_record(RecordValues(values=row)) for row in rows_of(text)]
    assert [without_line(r) for r in from_file] == from_values

    assert catalog_import_workflows(records=from_values).created == 2
    before = snapshot(WorkflowRun)
    again = catalog_import_workflows(records=from_file)
    assert again.as_dict() == {"created": 0, "updated": 0, "unchanged": 2}
    assert snapshot(WorkflowRun) == before


def test_fastq_records_built_from_values_equal_those_read_from_the_file(
    source_bucket_factory: Callable[[str], str],
) -> None:
    bucket = source_bucket_factory("primary")
    base_uri = f"s3://{bucket}/run1/"
    s3.put_object(bucket, "run1/a_R1.fastq.gz", b"r1")
    s3.put_object(bucket, "run1/a_R2.fastq.gz", b"r2!")
    text = _fastq_list(
        ("AAA.1", "L2401544", 1, "a_R1.fastq.gz", "a_R2.fastq.gz"),
        ("AAA.2", "L2401544_topup", 2, f"s3://{bucket}/run1/b_R1.fastq.ora", ""),
    )
    from_file = fastq_list_records_from_csv(text, base_uri=base_uri)
    base = fastq_list_base(base_uri)
    from_values = [fastq_record(RecordValues(values=row), base=base) for row in rows_of(text)]
    assert [without_line(r) for r in from_file] == from_values
    assert from_values[1].read1_key == "run1/b_R1.fastq.ora"

    first = catalog_import_fastq_list(
        records=from_values, instrument_run_id=RUN_ID, base_uri=base_uri
    )
    assert first.as_dict() == {
        "created": 2,
        "updated": 0,
        "unchanged": 0,
        "librariesCreated": 1,
        "missingInStorage": 1,
        "removed": 0,
    }
    before = snapshot(Fastq, LibraryRun, Library)
    again = catalog_import_fastq_list(
        records=from_file, instrument_run_id=RUN_ID, base_uri=base_uri
    )
    assert (again.created, again.updated, again.unchanged) == (0, 0, 2)
    assert snapshot(Fastq, LibraryRun, Library) == before
    assert StoredObject.objects.get(key="run1/a_R2.fastq.gz").size == 3


def test_a_bad_value_outside_a_file_is_named_by_its_field() -> None:
    row = dict(zip(LIMS_COLUMNS, lims_row().split(","), strict=True))
    with pytest.raises(
        DomainError, match=r"^sequencing_run_date: '24/10/2024' is not a valid date"
    ):
        lims_record(RecordValues(values={**row, "sequencing_run_date": "24/10/2024"}))
    with pytest.raises(DomainError, match=r"^library_id: value is too long or contains control"):
        RecordValues(values={"library_id": "L1\nL2"})


def test_records_of_a_file_are_all_checked_before_anything_is_imported() -> None:
    text = "\n".join([WF_HEADER, wf_row(), wf_row(portal_run_id="nope")]) + "\n"
    with pytest.raises(DomainError) as excinfo:
        workflow_records_from_csv(text)
    assert (excinfo.value.details["line"], excinfo.value.details["column"]) == (3, "portal_run_id")
    assert WorkflowRun.objects.count() == 0


def test_a_file_listed_twice_is_refused_with_its_line_or_without_one() -> None:
    base_uri = "s3://bucket-a/x/"
    text = _fastq_list(("A.1", "L1", 1, "a.fastq.gz", ""), ("A.2", "L1", 2, "a.fastq.gz", ""))
    with pytest.raises(DomainError, match=r"^line 2: file listed more than once: x/a.fastq.gz"):
        catalog_import_fastq_list(
            records=fastq_list_records_from_csv(text, base_uri=base_uri),
            instrument_run_id=RUN_ID,
            base_uri=base_uri,
        )
    base = fastq_list_base(base_uri)
    records = [fastq_record(RecordValues(values=row), base=base) for row in rows_of(text)]
    with pytest.raises(DomainError, match=r"^file listed more than once: x/a.fastq.gz"):
        catalog_import_fastq_list(records=records, instrument_run_id=RUN_ID, base_uri=base_uri)
    assert Fastq.objects.count() == 0


def test_the_readers_require_the_formats_column_lists() -> None:
    """The LIMS and workflow readers require exactly the mart columns of data_sharing_formats."""
    for column in LIMS_COLUMNS:
        header = ",".join(c for c in LIMS_COLUMNS if c != column)
        with pytest.raises(DomainError, match=f"missing required column\\(s\\): {column}$"):
            lims_records_from_csv(f"{header}\n{'x,' * (len(LIMS_COLUMNS) - 2)}x\n")
    for column in WORKFLOW_COLUMNS:
        header = ",".join(c for c in WORKFLOW_COLUMNS if c != column)
        with pytest.raises(DomainError, match=f"missing required column\\(s\\): {column}$"):
            workflow_records_from_csv(f"{header}\n{'x,' * (len(WORKFLOW_COLUMNS) - 2)}x\n")
