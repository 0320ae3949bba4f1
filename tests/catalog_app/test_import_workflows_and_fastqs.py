from __future__ import annotations

from collections.abc import Callable

import pytest
from data_sharing_formats.columns import WORKFLOW_COLUMNS

from catalog_app.importers.base import ImportResult
from catalog_app.importers.fastq_list import (
    FASTQ_LIST_COLUMNS,
    catalog_import_fastq_list,
    fastq_list_records_from_csv,
)
from catalog_app.importers.storage import catalog_sync_storage
from catalog_app.importers.workflows import catalog_import_workflows, workflow_records_from_csv
from catalog_app.models import Fastq, Library, StoredObject, WorkflowRun
from datasharing import s3
from datasharing.errors import DomainError
from tests.catalog_app.test_import_lims import import_lims, lims_file, lims_row

pytestmark = pytest.mark.django_db

WF_HEADER = ",".join(WORKFLOW_COLUMNS)


def import_workflows(*, text: str) -> ImportResult:
    return catalog_import_workflows(records=workflow_records_from_csv(text))


def import_fastq_list(*, text: str, instrument_run_id: str, base_uri: str) -> ImportResult:
    return catalog_import_fastq_list(
        records=fastq_list_records_from_csv(text, base_uri=base_uri),
        instrument_run_id=instrument_run_id,
        base_uri=base_uri,
    )


def wf_row(
    portal_run_id: str = "20241114aabbccdd",
    library_id: str = "L2401544",
    status: str = "Succeeded",
    **kw: str,
) -> str:
    values = [
        portal_run_id,
        library_id,
        kw.get("name", "tumor-normal"),
        "4.2.4",
        status,
        kw.get("start", "2024-11-14T01:00:00Z"),
        "2024-11-14T09:00:00Z",
        kw.get("duration", "28800"),
        "",
        "wf",
        "mart",
    ]
    return ",".join(values)


@pytest.fixture
def libraries() -> None:
    import_lims(text=lims_file(lims_row(), lims_row(library_id="L2401545", phenotype="normal")))


def test_workflow_import_links_libraries_and_uses_output_template(
    libraries: None, settings
) -> None:  # type: ignore[no-untyped-def]
    result = import_workflows(text="\n".join([WF_HEADER, wf_row(), wf_row(library_id="L2401545")]))
    assert result.as_dict() == {"created": 2, "updated": 0, "unchanged": 0}
    run = WorkflowRun.objects.get()
    assert run.status == "SUCCEEDED"
    assert sorted(lib.library_id for lib in run.libraries.all()) == ["L2401544", "L2401545"]
    assert (
        run.output_uri
        == f"s3://{settings.WORKFLOW_OUTPUT_BUCKET}/analysis/tumor-normal/20241114aabbccdd/"
    )


def test_workflow_reimport_is_unchanged_and_status_change_is_update(libraries: None) -> None:
    text = "\n".join([WF_HEADER, wf_row()])
    import_workflows(text=text)
    assert import_workflows(text=text).as_dict() == {
        "created": 0,
        "updated": 0,
        "unchanged": 1,
    }
    result = import_workflows(text="\n".join([WF_HEADER, wf_row(status="Failed")]))
    assert result.updated == 1
    assert WorkflowRun.objects.get().status == "FAILED"


def test_workflow_bad_portal_run_id_names_line_and_column(libraries: None) -> None:
    with pytest.raises(DomainError) as excinfo:
        import_workflows(text="\n".join([WF_HEADER, wf_row(), wf_row(portal_run_id="2024-11-14")]))
    assert excinfo.value.details == {
        "line": 3,
        "column": "portal_run_id",
        "reason": excinfo.value.details["reason"],
    }
    assert WorkflowRun.objects.count() == 0


def test_workflow_bad_header_and_empty_file(libraries: None) -> None:
    with pytest.raises(DomainError, match="missing required column"):
        import_workflows(text="portal_run_id,library_id\n20241114aabbccdd,L2401544\n")
    with pytest.raises(DomainError, match="empty"):
        import_workflows(text="")


def test_workflow_unknown_library_is_rejected(libraries: None) -> None:
    with pytest.raises(DomainError) as excinfo:
        import_workflows(text="\n".join([WF_HEADER, wf_row(library_id="L9999999")]))
    assert excinfo.value.details["unknownLibraries"] == ["L9999999"]


def test_workflow_bad_duration_names_column(libraries: None) -> None:
    with pytest.raises(DomainError) as excinfo:
        import_workflows(text="\n".join([WF_HEADER, wf_row(duration="long")]))
    assert excinfo.value.details["column"] == "workflow_duration"


def _fastq_list(*rows: tuple[str, str, int, str, str]) -> str:
    lines = [",".join(FASTQ_LIST_COLUMNS)]
    for rgid, rgsm, lane, r1, r2 in rows:
        lines.append(f"{rgid},{rgsm},{rgsm},{lane},{r1},{r2}")
    return "\n".join(lines) + "\n"


def test_fastq_list_import_reads_sizes_from_storage_and_is_idempotent(
    libraries: None, source_bucket_factory: Callable[[str], str]
) -> None:
    bucket = source_bucket_factory("primary")
    s3.put_object(bucket, "run1/L2401544_L001_R1.fastq.gz", b"r1-content")
    s3.put_object(
        bucket, "run1/L2401544_L001_R2.fastq.gz", b"r2-content!!", storage_class="DEEP_ARCHIVE"
    )
    text = _fastq_list(
        ("AAA.1", "L2401544", 1, "L2401544_L001_R1.fastq.gz", "L2401544_L001_R2.fastq.gz")
    )
    result = import_fastq_list(
        text=text,
        instrument_run_id="241024_A00130_0336_BHW7MVDSXC",
        base_uri=f"s3://{bucket}/run1/",
    )
    assert (result.created, result.extra["missingInStorage"]) == (1, 0)
    fastq = Fastq.objects.select_related("read1", "read2").get()
    assert fastq.compression_format == "gzip"
    assert fastq.read1.size == 10 and fastq.read2 is not None and fastq.read2.size == 12
    assert fastq.read2.storage_class == "DEEP_ARCHIVE"
    again = import_fastq_list(
        text=text,
        instrument_run_id="241024_A00130_0336_BHW7MVDSXC",
        base_uri=f"s3://{bucket}/run1/",
    )
    assert (again.created, again.updated, again.unchanged) == (0, 0, 1)


def test_fastq_list_topup_and_unknown_library(
    libraries: None, source_bucket_factory: Callable[[str], str]
) -> None:
    bucket = source_bucket_factory("primary")
    text = _fastq_list(
        ("AAA.1", "L2401544_topup", 1, "a_R1.fastq.ora", "a_R2.fastq.ora"),
        ("BBB.1", "L2409999", 1, "b_R1.fastq.gz", ""),
    )
    result = import_fastq_list(
        text=text, instrument_run_id="241101_A01052_0221_AHVTC2DSXC", base_uri=f"s3://{bucket}/x/"
    )
    assert result.extra == {"librariesCreated": 1, "missingInStorage": 3, "removed": 0}
    topup = Fastq.objects.get(rgid="AAA.1")
    assert topup.library.library_id == "L2401544" and topup.source_library_id == "L2401544_topup"
    assert topup.compression_format == "ora"
    assert Library.objects.filter(library_id="L2409999").exists()


def test_fastq_list_rejects_escaping_paths_and_bad_lane(
    libraries: None, source_bucket_factory: Callable[[str], str]
) -> None:
    bucket = source_bucket_factory("primary")
    with pytest.raises(DomainError) as excinfo:
        import_fastq_list(
            text=_fastq_list(("A.1", "L2401544", 1, "../other/x.fastq.gz", "")),
            instrument_run_id="241101_A01052_0221_AHVTC2DSXC",
            base_uri=f"s3://{bucket}/x/",
        )
    assert excinfo.value.details["column"] == "Read1File"
    with pytest.raises(DomainError) as excinfo:
        import_fastq_list(
            text=_fastq_list(("A.1", "L2401544", 0, "x.fastq.gz", "")),
            instrument_run_id="241101_A01052_0221_AHVTC2DSXC",
            base_uri=f"s3://{bucket}/x/",
        )
    assert excinfo.value.details["column"] == "Lane"
    assert Fastq.objects.count() == 0


def test_fastq_list_bad_header_and_empty_file(libraries: None) -> None:
    with pytest.raises(DomainError, match="missing required column"):
        import_fastq_list(
            text="RGID,RGSM\nA,B\n", instrument_run_id="R1", base_uri="s3://bucket-a/x/"
        )
    with pytest.raises(DomainError, match="empty"):
        import_fastq_list(text="", instrument_run_id="R1", base_uri="s3://bucket-a/x/")


def test_sync_storage_catalogues_prefix_then_flags_missing_and_refreshes(
    source_bucket_factory: Callable[[str], str],
) -> None:
    bucket = source_bucket_factory("analysis")
    s3.put_object(bucket, "analysis/wf/run1/a.bam", b"aaaa")
    s3.put_object(bucket, "analysis/wf/run1/b.vcf.gz", b"bb")
    first = catalog_sync_storage(uri=f"s3://{bucket}/analysis/wf/run1/")
    assert (first.created, first.updated, first.unchanged) == (2, 0, 0)
    assert catalog_sync_storage(uri=f"s3://{bucket}/analysis/wf/run1/").unchanged == 2
    s3.client().delete_object(Bucket=bucket, Key="analysis/wf/run1/b.vcf.gz")
    s3.put_object(bucket, "analysis/wf/run1/a.bam", b"aaaaaaaa")
    refreshed = catalog_sync_storage()
    assert refreshed.updated == 1 and refreshed.extra["missing"] == 1
    assert StoredObject.objects.get(key="analysis/wf/run1/a.bam").size == 8
    assert StoredObject.objects.get(key="analysis/wf/run1/b.vcf.gz").missing is True
