"""Resolution rules of SPEC §5 against the demo facility (real catalog, real S3)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

from catalog_app import demo
from catalog_app.importers.fastq_list import catalog_import_fastq_list, fastq_list_records_from_csv
from catalog_app.models import StoredObject, WorkflowRun
from datasharing import s3
from datasharing.errors import DomainError, domain_error_status
from packages_app.package_request import package_request_parse
from packages_app.resolution import Resolution, package_contents_resolve
from tests.packages_app.conftest import RUN_2, demo_fastq_name, request

pytestmark = pytest.mark.django_db

TN_OLD = demo.portal_run_id("2024-10-26", "SBJ00101tn-old")
TN_FAILED = demo.portal_run_id("2024-10-29", "SBJ00101tn-failed")
TN_SUBJECT_1 = demo.portal_run_id("2024-11-03", "SBJ00102tn")


def resolve(refresh: bool = True, **fields: Any) -> Resolution:
    return package_contents_resolve(
        request=package_request_parse(request(**fields)), refresh_storage=refresh
    )


def paths(resolution: Resolution) -> list[str]:
    return [f.relative_path for f in resolution.files]


def error(**fields: Any) -> DomainError:
    with pytest.raises(DomainError) as excinfo:
        resolve(**fields)
    assert domain_error_status(excinfo.value) == 400
    return excinfo.value


def test_fastqs_of_a_library_use_the_primary_layout(demo_catalog: Path) -> None:
    resolution = resolve(libraryIdList=["L2400105"])
    assert paths(resolution) == [
        f"fastq/{RUN_2}/Lane_{lane}/L2400105/{demo_fastq_name('L2400105', lane, read)}"
        for lane in (1, 2)
        for read in (1, 2)
    ]
    assert resolution.fastq_count == 2
    first = resolution.files[0]
    assert first.source_bucket == settings.DEMO_PRIMARY_BUCKET
    assert first.size > 0 and len(first.etag) == 32
    assert (first.library_id, first.instrument_run_id, first.lane, first.read_number) == (
        "L2400105",
        RUN_2,
        1,
        1,
    )
    assert [lib.library_id for lib in resolution.libraries] == ["L2400105"]
    metadata = resolution.libraries[0].metadata
    assert metadata["subject_id"] == "SBJ00102"
    assert metadata["project_ids"] == ["CUP"]
    assert metadata["phenotype"] == "normal"
    assert metadata["instrument_run_ids"] == [RUN_2]


def test_topup_fastqs_belong_to_the_base_library(demo_catalog: Path) -> None:
    by_base = resolve(libraryIdList=["L2400101"])
    by_topup_id = resolve(libraryIdList=["L2400101_topup"])
    assert paths(by_base) == paths(by_topup_id)
    assert paths(resolve(libraryIdList=["L2400101_rerun"])) == paths(by_base)
    assert paths(resolve(libraryIdList=["L2400101_topup2"])) == paths(by_base)
    topup = "L2400101_topup_S22_L001_R1_001.fastq.ora"
    assert f"fastq/{demo.ORA_RUN}/Lane_1/L2400101/{topup}" in paths(by_base)
    assert len(paths(by_base)) == 2 * 2 + 2  # two lanes on the first run, one lane of topup
    assert by_base.libraries[0].metadata["library_ids_sequenced"] == [
        "L2400101",
        "L2400101_topup",
    ]


def test_run_only_request_means_every_library_on_the_run(demo_catalog: Path) -> None:
    resolution = resolve(instrumentRunIdList=[RUN_2])
    on_run = sorted(lib.library_id for lib in demo.LIBRARIES if lib.run_id == RUN_2)
    assert [lib.library_id for lib in resolution.libraries] == on_run
    assert len(resolution.files) > 0
    assert {f.instrument_run_id for f in resolution.files} == {RUN_2}


def test_instrument_runs_restrict_the_libraries_and_their_fastqs(demo_catalog: Path) -> None:
    resolution = resolve(libraryIdList=["L2400101", "L2400104"], instrumentRunIdList=[demo.ORA_RUN])
    # L2400104 has no FASTQs on the ORA run; L2400101 only its topup there.
    assert [lib.library_id for lib in resolution.libraries] == ["L2400101"]
    assert {f.instrument_run_id for f in resolution.files} == {demo.ORA_RUN}
    assert len(resolution.files) == 2


def test_subjects_individuals_and_projects_select_their_libraries(demo_catalog: Path) -> None:
    by_subject = resolve(subjectIdList=["SBJ00102"])
    by_external = resolve(subjectIdList=[demo.external_subject_id(1)])
    by_individual = resolve(individualIdList=["IDV00502"])
    expected = ["L2400104", "L2400105", "L2400106"]
    for resolution in (by_subject, by_external, by_individual):
        assert [lib.library_id for lib in resolution.libraries] == expected
    by_project = resolve(projectIdList=["PanCan"])
    assert len(by_project.libraries) == sum(1 for x in demo.LIBRARIES if x.project_id == "PanCan")


def test_unknown_ids_are_listed(demo_catalog: Path) -> None:
    err = error(libraryIdList=["L2400101", "L9999999", "L8888888_topup"])
    assert "libraryIdList: L8888888_topup, L9999999" in err.message
    err = error(
        projectIdList=["Nope"],
        instrumentRunIdList=["999999_X_0000_BNOPE"],
        dataTypeList=["secondaryAnalysis"],
        portalRunIdExclusionList=["20990101deadbeef"],
    )
    assert err.details["unknown"] == {
        "projectIdList": ["Nope"],
        "instrumentRunIdList": ["999999_X_0000_BNOPE"],
        "portalRunIdExclusionList": ["20990101deadbeef"],
    }


def test_unknown_workflow_names_are_listed(demo_catalog: Path) -> None:
    err = error(
        libraryIdList=["L2400101"],
        dataTypeList=["secondaryAnalysis"],
        secondaryAnalysisTypeList=["tumour-normal", "umccrise", "sash"],
    )
    # sash is known from its workflow file filter even though the catalog has no sash run.
    assert err.details["unknown"] == {"secondaryAnalysisTypeList": ["tumour-normal"]}


def test_latest_successful_run_is_chosen_not_a_newer_failed_one(demo_catalog: Path) -> None:
    failed = WorkflowRun.objects.get(portal_run_id=TN_FAILED)
    assert failed.status == "FAILED"
    assert failed.start_time > WorkflowRun.objects.get(portal_run_id=TN_OLD).start_time
    resolution = resolve(
        libraryIdList=["L2400101", "L2400102"],
        dataTypeList=["secondaryAnalysis"],
        secondaryAnalysisTypeList=["tumor-normal"],
    )
    assert [a.portal_run_id for a in resolution.analyses] == [TN_OLD]
    assert {f.portal_run_id for f in resolution.files} == {TN_OLD}


def test_latest_successful_run_among_several_successful_ones(demo_catalog: Path) -> None:
    # The newer run is marked successful (a re-run that worked) and has a deliverable.
    newer = WorkflowRun.objects.get(portal_run_id=TN_FAILED)
    newer.status = "SUCCEEDED"
    newer.save()
    bam = s3.parse_s3_uri(newer.output_uri).child("L2400101/L2400101.bam")
    s3.put_object(bam.bucket, bam.key, b"bam")
    try:
        resolution = resolve(
            libraryIdList=["L2400101"],
            dataTypeList=["secondaryAnalysis"],
            secondaryAnalysisTypeList=["tumor-normal"],
        )
    finally:
        s3.client().delete_object(Bucket=bam.bucket, Key=bam.key)
    assert [a.portal_run_id for a in resolution.analyses] == [TN_FAILED]
    assert paths(resolution) == [
        f"secondary-analysis/tumor-normal/{TN_FAILED}/L2400101/L2400101.bam"
    ]


def test_all_workflow_types_when_none_are_named(demo_catalog: Path) -> None:
    resolution = resolve(libraryIdList=["L2400104"], dataTypeList=["secondaryAnalysis"])
    assert sorted(a.workflow_name for a in resolution.analyses) == [
        "rnasum",
        "tumor-normal",
        "umccrise",
    ]


def test_exclusion_list_always_applies(demo_catalog: Path) -> None:
    fields: dict[str, Any] = {
        "libraryIdList": ["L2400101", "L2400102"],
        "dataTypeList": ["secondaryAnalysis"],
    }
    everything = resolve(**fields)
    assert TN_OLD in {a.portal_run_id for a in everything.analyses}
    without = resolve(**fields, portalRunIdExclusionList=[TN_OLD])
    # The only other tumor-normal run failed: no tumor-normal at all, the rest unchanged.
    assert {a.portal_run_id for a in without.analyses} == {
        a.portal_run_id for a in everything.analyses
    } - {TN_OLD}
    explicit = resolve(
        **fields,
        portalRunIdList=[TN_OLD, demo.portal_run_id("2024-10-26", "SBJ00101umccrise")],
        portalRunIdExclusionList=[TN_OLD],
    )
    assert [a.workflow_name for a in explicit.analyses] == ["umccrise"]


def test_portal_runs_must_belong_to_the_selected_libraries(demo_catalog: Path) -> None:
    err = error(
        libraryIdList=["L2400101", "L2400102"],
        dataTypeList=["secondaryAnalysis"],
        portalRunIdList=[TN_OLD, TN_SUBJECT_1],
    )
    assert TN_SUBJECT_1 in err.message and TN_OLD not in err.message
    assert err.details == {"portalRunsNotOfSelectedLibraries": [TN_SUBJECT_1]}


def test_failed_portal_runs_cannot_be_asked_for(demo_catalog: Path) -> None:
    err = error(
        libraryIdList=["L2400101"],
        dataTypeList=["secondaryAnalysis"],
        portalRunIdList=[TN_FAILED],
    )
    assert f"{TN_FAILED} (FAILED)" in err.message


def test_secondary_layout_and_workflow_filters(demo_catalog: Path) -> None:
    resolution = resolve(
        libraryIdList=["L2400104", "L2400105"],
        dataTypeList=["secondaryAnalysis"],
        secondaryAnalysisTypeList=["tumor-normal"],
    )
    base = f"secondary-analysis/tumor-normal/{TN_SUBJECT_1}"
    pair = "SBJ00102__L2400104_L2400105"
    assert paths(resolution) == sorted(
        [
            f"{base}/L2400104/L2400104.bam",
            f"{base}/L2400104/L2400104.bam.bai",
            f"{base}/L2400104/L2400104.bam.md5sum",
            f"{base}/L2400105/L2400105.bam",
            f"{base}/L2400105/L2400105.bam.bai",
            f"{base}/L2400105/L2400105.bam.md5sum",
            *(
                f"{base}/{pair}/{pair}.{kind}.vcf.gz{index}"
                for kind in ("hard-filtered", "somatic.hard-filtered", "sv", "cnv")
                for index in ("", ".tbi")
            ),
            f"{base}/{pair}/{pair}.mapping_metrics.csv",
        ]
    )
    assert resolution.analyses[0].library_ids == ["L2400104", "L2400105"]


def test_without_workflow_filters_everything_but_logs_and_cache_is_shared(
    demo_catalog: Path,
) -> None:
    resolution = resolve(
        libraryIdList=["L2400104"],
        dataTypeList=["secondaryAnalysis"],
        secondaryAnalysisTypeList=["umccrise"],
        useWorkflowFilters=False,
    )
    run = demo.portal_run_id("2024-11-03", "SBJ00102umccrise")
    tree = demo._umccrise_files("SBJ00102", "L2400104", "L2400105")
    assert paths(resolution) == sorted(
        f"secondary-analysis/umccrise/{run}/{relative}"
        for relative in tree
        if not relative.startswith(("logs/", "cache/"))
    )
    assert any("/work/" in p for p in paths(resolution))


def test_prefix_slash_means_no_prefix_and_other_prefixes_apply(demo_catalog: Path) -> None:
    resolution = resolve(
        libraryIdList=["L2400106"],
        dataTypeList=["fastq", "secondaryAnalysis"],
        secondaryAnalysisTypeList=["wts"],
        primaryDataPathPrefix="/",
        secondaryAnalysisPathPrefix="analysis",
    )
    run = demo.portal_run_id("2024-11-03", "L2400106wts")
    assert f"{RUN_2}/Lane_3/L2400106/{demo_fastq_name('L2400106', 3, 1)}" in paths(resolution)
    assert f"analysis/wts/{run}/L2400106/L2400106.quant.sf" in paths(resolution)
    resolution = resolve(
        libraryIdList=["L2400106"],
        dataTypeList=["fastq", "secondaryAnalysis"],
        secondaryAnalysisTypeList=["wts"],
        primaryDataPathPrefix="primary",
        secondaryAnalysisPathPrefix="/",
    )
    assert f"primary/{RUN_2}/Lane_3/L2400106/{demo_fastq_name('L2400106', 3, 2)}" in paths(
        resolution
    )
    assert f"wts/{run}/L2400106/L2400106.quant.genes.sf" in paths(resolution)


def test_output_listing_catches_files_written_after_cataloguing(demo_catalog: Path) -> None:
    run = WorkflowRun.objects.get(portal_run_id=TN_SUBJECT_1)
    output = s3.parse_s3_uri(run.output_uri)
    late = output.child("L2400104/L2400104.late.bam")
    s3.put_object(late.bucket, late.key, b"late")
    gone = StoredObject.objects.get(bucket=output.bucket, key=output.key + "L2400104/L2400104.bam")
    s3.client().delete_object(Bucket=gone.bucket, Key=gone.key)
    try:
        stale = resolve(
            refresh=False,
            libraryIdList=["L2400104"],
            dataTypeList=["secondaryAnalysis"],
            secondaryAnalysisTypeList=["tumor-normal"],
        )
        fresh = resolve(
            libraryIdList=["L2400104"],
            dataTypeList=["secondaryAnalysis"],
            secondaryAnalysisTypeList=["tumor-normal"],
        )
    finally:
        s3.client().delete_object(Bucket=late.bucket, Key=late.key)
        s3.put_object(gone.bucket, gone.key, demo._blob("L2400104bam", 8192))
    suffix = f"{TN_SUBJECT_1}/L2400104/L2400104"
    assert any(p.endswith(f"{suffix}.bam") for p in paths(stale))
    assert not any(p.endswith(f"{suffix}.late.bam") for p in paths(stale))
    assert any(p.endswith(f"{suffix}.late.bam") for p in paths(fresh))
    assert not any(p.endswith(f"{suffix}.bam") for p in paths(fresh))
    gone.refresh_from_db()
    assert gone.missing


def test_fastqs_missing_from_storage_are_an_error(demo_catalog: Path) -> None:
    StoredObject.objects.filter(key__contains="L2400105_S5_L002_R2").update(missing=True)
    err = error(libraryIdList=["L2400105"])
    assert "1 FASTQ file(s) of the selected libraries are not in storage" in err.message
    assert "L2400105_S5_L002_R2_001.fastq.gz" in err.message


def test_two_files_for_one_destination_path_are_rejected(
    demo_catalog: Path, source_bucket_factory: Any
) -> None:
    # The same run re-demultiplexed under another prefix: same run, lane, library and file name.
    bucket = source_bucket_factory("redemux")
    name = demo_fastq_name("L2400105", 1, 1)
    key = f"rerun/Samples/Lane_1/L2400105/{name}"
    s3.put_object(bucket, key, b"@r\nA\n+\nI\n")
    catalog_import_fastq_list(
        records=fastq_list_records_from_csv(
            f"RGID,RGSM,RGLB,Lane,Read1File,Read2File\nX.1,L2400105,L2400105,1,{key[6:]},\n",
            base_uri=f"s3://{bucket}/rerun/",
        ),
        instrument_run_id=RUN_2,
        base_uri=f"s3://{bucket}/rerun/",
        authoritative=False,  # rows added to the run, as a FastqListRowsAdded event adds them
    )
    err = error(libraryIdList=["L2400105"])
    path = f"fastq/{RUN_2}/Lane_1/L2400105/{name}"
    assert "1 destination path(s) would receive more than one file" in err.message
    assert path in err.message
    assert sorted(err.details["duplicatePaths"][path]) == sorted(
        [
            f"s3://{settings.DEMO_PRIMARY_BUCKET}/primary/{RUN_2}/Samples/Lane_1/L2400105/{name}",
            f"s3://{bucket}/{key}",
        ]
    )


def test_a_request_that_matches_no_files_is_an_error(demo_catalog: Path) -> None:
    err = error(
        libraryIdList=["L2400105"],
        dataTypeList=["secondaryAnalysis"],
        secondaryAnalysisTypeList=["wts"],
    )
    assert "The request matches no files" in err.message


def test_summary_counts_archived_files(demo_catalog: Path) -> None:
    resolution = resolve(subjectIdList=["SBJ00101"])
    summary = resolution.summary()
    # The demo keeps the tumor FASTQs of its first run in DEEP_ARCHIVE (L2400101 WGS, L2400103
    # WTS); the topup on the ORA run and the normal library are not archived.
    archived = sorted(f.relative_path.rsplit("/", 1)[-1] for f in resolution.files if f.is_archived)
    assert archived == sorted(
        [demo_fastq_name("L2400101", lane, read) for lane in (1, 2) for read in (1, 2)]
        + [demo_fastq_name("L2400103", 3, read) for read in (1, 2)]
    )
    assert summary["archived_file_count"] == 6
    assert summary["unrestored_file_count"] == 6
    assert summary["file_count"] == len(resolution.files) == 4 + 2 + 4 + 2
    assert summary["total_bytes"] == sum(f.size for f in resolution.files)
    assert summary["by_data_type"]["fastq"] == {
        "file_count": 12,
        "total_bytes": summary["total_bytes"],
        "archived_file_count": 6,
    }
    assert summary["by_data_type"]["secondaryAnalysis"]["file_count"] == 0
