"""Acceptance: a package of demo data (FASTQs and secondary analyses) built by a real Celery
worker over Redis, with exactly the expected relative paths."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from catalog_app import demo
from packages_app.models import Package, PackageStatus
from tests.conftest import client_for, make_user, wait_for
from tests.packages_app.conftest import RUN_2, demo_fastq_name

TN = demo.portal_run_id("2024-11-03", "SBJ00102tn")
UMCCRISE = demo.portal_run_id("2024-11-03", "SBJ00102umccrise")
WTS = demo.portal_run_id("2024-11-03", "L2400106wts")
RNASUM = demo.portal_run_id("2024-11-03", "L2400106rnasum")
PAIR = "SBJ00102__L2400104_L2400105"
UBASE = "SBJ00102__L2400104"

EXPECTED_FASTQS = [
    f"fastq/{RUN_2}/Lane_{lane}/{lib}/{demo_fastq_name(lib, lane, read)}"
    for lib, lanes in (("L2400104", (1, 2)), ("L2400105", (1, 2)), ("L2400106", (3,)))
    for lane in lanes
    for read in (1, 2)
]
EXPECTED_ANALYSES = [
    f"secondary-analysis/tumor-normal/{TN}/L2400104/L2400104.bam",
    f"secondary-analysis/tumor-normal/{TN}/L2400104/L2400104.bam.bai",
    f"secondary-analysis/tumor-normal/{TN}/L2400104/L2400104.bam.md5sum",
    f"secondary-analysis/tumor-normal/{TN}/L2400105/L2400105.bam",
    f"secondary-analysis/tumor-normal/{TN}/L2400105/L2400105.bam.bai",
    f"secondary-analysis/tumor-normal/{TN}/L2400105/L2400105.bam.md5sum",
    f"secondary-analysis/tumor-normal/{TN}/{PAIR}/{PAIR}.cnv.vcf.gz",
    f"secondary-analysis/tumor-normal/{TN}/{PAIR}/{PAIR}.cnv.vcf.gz.tbi",
    f"secondary-analysis/tumor-normal/{TN}/{PAIR}/{PAIR}.hard-filtered.vcf.gz",
    f"secondary-analysis/tumor-normal/{TN}/{PAIR}/{PAIR}.hard-filtered.vcf.gz.tbi",
    f"secondary-analysis/tumor-normal/{TN}/{PAIR}/{PAIR}.mapping_metrics.csv",
    f"secondary-analysis/tumor-normal/{TN}/{PAIR}/{PAIR}.somatic.hard-filtered.vcf.gz",
    f"secondary-analysis/tumor-normal/{TN}/{PAIR}/{PAIR}.somatic.hard-filtered.vcf.gz.tbi",
    f"secondary-analysis/tumor-normal/{TN}/{PAIR}/{PAIR}.sv.vcf.gz",
    f"secondary-analysis/tumor-normal/{TN}/{PAIR}/{PAIR}.sv.vcf.gz.tbi",
    f"secondary-analysis/umccrise/{UMCCRISE}/{UBASE}/{UBASE}-multiqc_report.html",
    f"secondary-analysis/umccrise/{UMCCRISE}/{UBASE}/{UBASE}.cancer_report.html",
    f"secondary-analysis/umccrise/{UMCCRISE}/{UBASE}/cancer_report_tables/"
    f"{UBASE}-purple_cnv_som.tsv.gz",
    f"secondary-analysis/umccrise/{UMCCRISE}/{UBASE}/small_variants/{UBASE}-somatic-PASS.vcf.gz",
    f"secondary-analysis/umccrise/{UMCCRISE}/{UBASE}/small_variants/"
    f"{UBASE}-somatic-PASS.vcf.gz.tbi",
    f"secondary-analysis/umccrise/{UMCCRISE}/{UBASE}/small_variants/{UBASE}-somatic.pcgr.html",
    f"secondary-analysis/wts/{WTS}/L2400106/L2400106.bam",
    f"secondary-analysis/wts/{WTS}/L2400106/L2400106.bam.bai",
    f"secondary-analysis/wts/{WTS}/L2400106/L2400106.bam.md5sum",
    f"secondary-analysis/wts/{WTS}/L2400106/L2400106.fusion_candidates.final",
    f"secondary-analysis/wts/{WTS}/L2400106/L2400106.quant.genes.sf",
    f"secondary-analysis/wts/{WTS}/L2400106/L2400106.quant.sf",
    f"secondary-analysis/rnasum/{RNASUM}/L2400106/L2400106.RNAseq_report.html",
    f"secondary-analysis/rnasum/{RNASUM}/L2400106/L2400106.RNAseq_report/glimpse.tsv",
]


def test_demo_package_succeeds_through_a_real_worker(
    celery_worker: Any, demo_catalog: Path
) -> None:
    client = client_for(make_user("wendy-worker-test", "curator"))
    response = client.post(
        "/api/v1/package/",
        {
            "packageName": "SBJ00102-everything",
            "packageRequest": {
                "subjectIdList": ["SBJ00102"],
                "dataTypeList": ["fastq", "secondaryAnalysis"],
            },
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    package_id = response.json()["id"]

    def finished() -> Package | None:
        package = Package.objects.get(id=package_id)
        return package if package.is_terminal else None

    package = wait_for(
        finished, timeout=90, message=f"package not finished:\n{celery_worker.log()}"
    )
    assert package.status == PackageStatus.SUCCEEDED, package.error_message
    paths = list(package.files.order_by("relative_path").values_list("relative_path", flat=True))
    assert paths == sorted(EXPECTED_FASTQS + EXPECTED_ANALYSES)
    assert package.manifest_key and package.checksums_key
    assert f"[{package_id}]" in celery_worker.log()  # worker log lines carry the job id
