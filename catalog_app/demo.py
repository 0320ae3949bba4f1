"""A small synthetic sequencing facility for `make run`, tests and demos.

Everything is deterministic: running the seed twice writes the same bytes and the same rows.
Two projects, eight subjects, 21 libraries (tumor/normal WGS, WTS, a ctDNA panel, one topup),
three instrument runs (one with ORA-compressed FASTQs, one with archived FASTQs) and workflow
outputs with realistic trees (BAM + BAI + md5sum, VCF + TBI, HTML reports, logs/ and cache/).
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from data_sharing_formats.columns import (
    LIMS_COLUMNS,
    LIMS_OPTIONAL_COLUMNS,
    WORKFLOW_COLUMNS,
)
from django.conf import settings

from catalog_app.importers.fastq_list import (
    FASTQ_LIST_COLUMNS,
    catalog_import_fastq_list,
    fastq_list_records_from_csv,
)
from catalog_app.importers.lims import catalog_import_lims, lims_records_from_csv
from catalog_app.importers.storage import catalog_sync_prefix
from catalog_app.importers.workflows import (
    catalog_import_workflows,
    workflow_output_uri,
    workflow_records_from_csv,
)
from datasharing import s3

logger = logging.getLogger(__name__)

RUNS = {
    "241024_A00130_0336_BHW7MVDSXC": "2024-10-24",
    "241101_A01052_0221_AHVTC2DSXC": "2024-11-01",
    "241115_A00130_0340_BH2YLKDSXD": "2024-11-15",
}
ARCHIVED_RUN = "241024_A00130_0336_BHW7MVDSXC"  # its tumor FASTQs sit in DEEP_ARCHIVE
ORA_RUN = "241115_A00130_0340_BH2YLKDSXD"
DEMO_RECIPIENT_BUCKET = "demo-recipient"
PROJECTS = {"CUP": "Tothill", "PanCan": "Grimmond"}


@dataclass
class DemoLibrary:
    library_id: str
    subject_index: int
    phenotype: str
    type: str
    assay: str
    workflow: str
    run_id: str
    lanes: tuple[int, ...]
    project_id: str
    source: str = "FFPE"
    coverage: float = 40.0


@dataclass
class DemoWorkflowRun:
    portal_run_id: str
    workflow_name: str
    version: str
    status: str
    start: str
    end: str
    library_ids: list[str]
    files: dict[str, bytes] = field(default_factory=dict)


def subject_id(index: int) -> str:
    return f"SBJ{index + 101:05d}"


def external_subject_id(index: int) -> str:
    return f"PM{3045670 + index}"


def _libraries() -> list[DemoLibrary]:
    libs: list[DemoLibrary] = []
    run_ids = list(RUNS)
    number = 2400100
    for index in range(8):
        project = "CUP" if index < 5 else "PanCan"
        run_id = run_ids[index % 3]
        number += 1
        libs.append(
            DemoLibrary(
                f"L{number}",
                index,
                "tumor",
                "WGS",
                "TsqNano",
                "clinical",
                run_id,
                (1, 2),
                project,
                "FFPE",
                80.0,
            )
        )
        number += 1
        libs.append(
            DemoLibrary(
                f"L{number}",
                index,
                "normal",
                "WGS",
                "TsqNano",
                "clinical",
                run_id,
                (1, 2),
                project,
                "blood",
                40.0,
            )
        )
        if index in (0, 1, 5):
            number += 1
            libs.append(
                DemoLibrary(
                    f"L{number}",
                    index,
                    "tumor",
                    "WTS",
                    "NebRNA",
                    "clinical",
                    run_id,
                    (3,),
                    project,
                    "FFPE",
                    0.0,
                )
            )
        if index in (2, 6):
            number += 1
            libs.append(
                DemoLibrary(
                    f"L{number}",
                    index,
                    "tumor",
                    "ctDNA",
                    "ctTSOv2",
                    "research",
                    run_ids[2],
                    (4,),
                    project,
                    "plasma",
                    0.0,
                )
            )
    return libs


LIBRARIES = _libraries()
TOPUP_LIBRARY = LIBRARIES[0].library_id  # sequenced again on the last run as L..._topup


def portal_run_id(date: str, seed: str) -> str:
    return date.replace("-", "") + hashlib.sha256(seed.encode()).hexdigest()[:8]


def fastq_bytes(seed: str, reads: int = 40, length: int = 100) -> bytes:
    """A small, valid, gzip-compressed FASTQ whose content depends only on `seed`."""
    rng = random.Random(seed)
    out = io.StringIO()
    for n in range(reads):
        bases = "".join(rng.choice("ACGT") for _ in range(length))
        quals = "".join(chr(33 + rng.randint(20, 40)) for _ in range(length))
        out.write(f"@{seed}:{n} 1:N:0:ACGTACGT\n{bases}\n+\n{quals}\n")
    return gzip.compress(out.getvalue().encode(), mtime=0)


def ora_bytes(seed: str) -> bytes:
    # ORA is Illumina's proprietary compression; demo files carry the ORA magic and opaque bytes.
    return b"ORA\x01" + hashlib.sha512(seed.encode()).digest() * 8


def _blob(seed: str, size: int = 2048) -> bytes:
    digest = hashlib.sha256(seed.encode()).digest()
    return (digest * (size // len(digest) + 1))[:size]


def _with_md5(files: dict[str, bytes], name: str, content: bytes) -> None:
    files[name] = content
    files[name + ".md5sum"] = (
        f"{hashlib.md5(content, usedforsecurity=False).hexdigest()}  {name.rsplit('/', 1)[-1]}\n".encode()
    )


def _logs_and_cache(files: dict[str, bytes], seed: str) -> None:
    files["logs/pipeline.log"] = f"{seed} started\n{seed} finished\n".encode()
    files["logs/trace.txt"] = b"task_id\tstatus\n1\tCOMPLETED\n"
    files["cache/intermediate.bin"] = _blob(seed + "cache", 4096)


def _tumor_normal_files(subject: str, tumor: str, normal: str) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    base = f"{subject}__{tumor}_{normal}"
    _with_md5(files, f"{tumor}/{tumor}.bam", _blob(tumor + "bam", 8192))
    files[f"{tumor}/{tumor}.bam.bai"] = _blob(tumor + "bai", 512)
    _with_md5(files, f"{normal}/{normal}.bam", _blob(normal + "bam", 8192))
    files[f"{normal}/{normal}.bam.bai"] = _blob(normal + "bai", 512)
    files[f"{base}/{base}.hard-filtered.vcf.gz"] = gzip.compress(
        f"##fileformat=VCFv4.2\n#{base}\n".encode(), mtime=0
    )
    files[f"{base}/{base}.hard-filtered.vcf.gz.tbi"] = _blob(base + "tbi", 256)
    files[f"{base}/{base}.somatic.hard-filtered.vcf.gz"] = gzip.compress(
        f"##fileformat=VCFv4.2\n#{base} somatic\n".encode(), mtime=0
    )
    files[f"{base}/{base}.somatic.hard-filtered.vcf.gz.tbi"] = _blob(base + "stbi", 256)
    files[f"{base}/{base}.sv.vcf.gz"] = gzip.compress(b"##fileformat=VCFv4.2\n", mtime=0)
    files[f"{base}/{base}.sv.vcf.gz.tbi"] = _blob(base + "svtbi", 256)
    files[f"{base}/{base}.cnv.vcf.gz"] = gzip.compress(b"##fileformat=VCFv4.2\n", mtime=0)
    files[f"{base}/{base}.cnv.vcf.gz.tbi"] = _blob(base + "cnvtbi", 256)
    files[f"{base}/{base}.mapping_metrics.csv"] = (
        b"section,metric,value\nMAPPING,Total reads,1000\n"
    )
    _logs_and_cache(files, base)
    return files


def _wts_files(library: str) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    _with_md5(files, f"{library}/{library}.bam", _blob(library + "wtsbam", 8192))
    files[f"{library}/{library}.bam.bai"] = _blob(library + "wtsbai", 512)
    files[f"{library}/{library}.quant.sf"] = b"Name\tLength\tTPM\nENST0001\t1000\t12.5\n"
    files[f"{library}/{library}.fusion_candidates.final"] = b"#FusionGene\tScore\n"
    files[f"{library}/{library}.quant.genes.sf"] = b"Name\tTPM\nTP53\t33.1\n"
    _logs_and_cache(files, library)
    return files


def _umccrise_files(subject: str, tumor: str, normal: str) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    base = f"{subject}__{tumor}"
    files[f"{base}/{base}.cancer_report.html"] = (
        f"<html><body><h1>Cancer report {base}</h1></body></html>".encode()
    )
    files[f"{base}/small_variants/{base}-somatic.pcgr.html"] = b"<html><body>PCGR</body></html>"
    files[f"{base}/small_variants/{base}-somatic-PASS.vcf.gz"] = gzip.compress(
        b"##fileformat=VCFv4.2\n", mtime=0
    )
    files[f"{base}/small_variants/{base}-somatic-PASS.vcf.gz.tbi"] = _blob(base + "pass", 256)
    files[f"{base}/{base}-multiqc_report.html"] = b"<html><body>MultiQC</body></html>"
    files[f"{base}/cancer_report_tables/{base}-purple_cnv_som.tsv.gz"] = gzip.compress(
        b"chrom\tstart\n", mtime=0
    )
    files[f"work/{base}/config/{normal}.yaml"] = b"config: true\n"
    _logs_and_cache(files, base)
    return files


def _cttso_files(library: str) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    files[f"Results/{library}/{library}.tmb.json"] = b'{"tmb": 7.3}'
    files[f"Results/{library}/{library}.msi.json"] = b'{"msi": "MSS"}'
    files[f"Results/{library}/{library}_CombinedVariantOutput.tsv"] = b"[TMB]\nTotal TMB\t7.3\n"
    files[f"Results/{library}/{library}.hard-filtered.vcf.gz"] = gzip.compress(
        b"##fileformat=VCFv4.2\n", mtime=0
    )
    files[f"Results/{library}/{library}_MergedSmallVariants.genome.vcf.gz"] = gzip.compress(
        b"##fileformat=VCFv4.2\n", mtime=0
    )
    files[f"Results/{library}/{library}.bam"] = _blob(library + "ctbam", 4096)
    files["Results/MetricsOutput.tsv"] = b"metric\tvalue\n"
    files[f"Logs_Intermediates/DragenCaller/{library}/{library}.bam"] = _blob(
        library + "inter", 4096
    )
    _logs_and_cache(files, library)
    return files


def _oncoanalyser_files(subject: str, tumor: str) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    files[f"{subject}/purple/{tumor}.purple.purity.tsv"] = b"purity\tploidy\n0.62\t3.1\n"
    files[f"{subject}/purple/{tumor}.purple.somatic.vcf.gz"] = gzip.compress(
        b"##fileformat=VCFv4.2\n", mtime=0
    )
    files[f"{subject}/linx/{tumor}.linx.fusion.tsv"] = b"fusion\n"
    files[f"{subject}/pipeline_info/software_versions.yml"] = b"oncoanalyser: 1.0\n"
    files[f"{subject}/work/abc123/.command.log"] = b"log\n"
    _logs_and_cache(files, subject)
    return files


def _rnasum_files(library: str) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    files[f"{library}/{library}.RNAseq_report.html"] = (
        f"<html><body>RNAsum {library}</body></html>".encode()
    )
    files[f"{library}/{library}.RNAseq_report/glimpse.tsv"] = b"gene\tvalue\n"
    _logs_and_cache(files, library)
    return files


def workflow_runs() -> list[DemoWorkflowRun]:
    runs: list[DemoWorkflowRun] = []
    by_subject: dict[int, list[DemoLibrary]] = {}
    for lib in LIBRARIES:
        by_subject.setdefault(lib.subject_index, []).append(lib)
    for index, libs in sorted(by_subject.items()):
        runs.extend(_subject_workflow_runs(index, libs))
    return runs


def _subject_workflow_runs(index: int, libs: list[DemoLibrary]) -> list[DemoWorkflowRun]:
    """A subject's tumor-normal, umccrise (and for two subjects oncoanalyser) runs two days after
    sequencing, then the runs of its WTS and ctDNA libraries."""
    subject = subject_id(index)
    tumor = next(lib for lib in libs if lib.phenotype == "tumor" and lib.type == "WGS")
    normal = next(lib for lib in libs if lib.phenotype == "normal")
    pair = [tumor.library_id, normal.library_id]
    date = RUNS[tumor.run_id]
    day = date[:8] + f"{int(date[8:]) + 2:02d}"
    runs = _tumor_normal_runs(subject, pair, day, with_failed_rerun=index == 0)
    runs.append(
        DemoWorkflowRun(
            portal_run_id(day, subject + "umccrise"),
            "umccrise",
            "2.3.1",
            "SUCCEEDED",
            f"{day}T10:00:00Z",
            f"{day}T14:00:00Z",
            pair,
            _umccrise_files(subject, *pair),
        )
    )
    if index in (0, 5):
        runs.append(
            DemoWorkflowRun(
                portal_run_id(day, subject + "onco"),
                "oncoanalyser-wgts-dna",
                "1.0.0",
                "SUCCEEDED",
                f"{day}T10:00:00Z",
                f"{day}T16:00:00Z",
                pair,
                _oncoanalyser_files(subject, tumor.library_id),
            )
        )
    for lib in libs:
        if lib.type == "WTS":
            runs.extend(_wts_runs(lib, tumor, day))
        if lib.type == "ctDNA":
            runs.append(_cttso_run(lib))
    return runs


def _tumor_normal_runs(
    subject: str, pair: list[str], day: str, *, with_failed_rerun: bool
) -> list[DemoWorkflowRun]:
    if not with_failed_rerun:
        return [
            DemoWorkflowRun(
                portal_run_id(day, subject + "tn"),
                "tumor-normal",
                "4.3.6",
                "SUCCEEDED",
                f"{day}T02:00:00Z",
                f"{day}T09:00:00Z",
                pair,
                _tumor_normal_files(subject, *pair),
            )
        ]
    # An older successful run, then a newer FAILED one: "latest successful" is the first.
    later = day[:8] + f"{int(day[8:]) + 3:02d}"
    return [
        DemoWorkflowRun(
            portal_run_id(day, subject + "tn-old"),
            "tumor-normal",
            "4.2.4",
            "SUCCEEDED",
            f"{day}T02:00:00Z",
            f"{day}T09:00:00Z",
            pair,
            _tumor_normal_files(subject, *pair),
        ),
        DemoWorkflowRun(
            portal_run_id(later, subject + "tn-failed"),
            "tumor-normal",
            "4.3.6",
            "FAILED",
            f"{later}T02:00:00Z",
            f"{later}T03:00:00Z",
            pair,
            {"logs/pipeline.log": b"error: out of memory\n"},
        ),
    ]


def _wts_runs(lib: DemoLibrary, tumor: DemoLibrary, day: str) -> list[DemoWorkflowRun]:
    return [
        DemoWorkflowRun(
            portal_run_id(day, lib.library_id + "wts"),
            "wts",
            "4.2.4",
            "SUCCEEDED",
            f"{day}T03:00:00Z",
            f"{day}T05:00:00Z",
            [lib.library_id],
            _wts_files(lib.library_id),
        ),
        DemoWorkflowRun(
            portal_run_id(day, lib.library_id + "rnasum"),
            "rnasum",
            "1.1.5",
            "SUCCEEDED",
            f"{day}T15:00:00Z",
            f"{day}T16:00:00Z",
            [lib.library_id, tumor.library_id],
            _rnasum_files(lib.library_id),
        ),
    ]


def _cttso_run(lib: DemoLibrary) -> DemoWorkflowRun:
    ct_day = RUNS[lib.run_id][:8] + f"{int(RUNS[lib.run_id][8:]) + 1:02d}"
    return DemoWorkflowRun(
        portal_run_id(ct_day, lib.library_id + "cttso"),
        "cttsov2",
        "2.6.0",
        "SUCCEEDED",
        f"{ct_day}T03:00:00Z",
        f"{ct_day}T06:00:00Z",
        [lib.library_id],
        _cttso_files(lib.library_id),
    )


def lims_csv() -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*LIMS_COLUMNS, *LIMS_OPTIONAL_COLUMNS])
    rows = [(lib, lib.library_id, lib.run_id) for lib in LIBRARIES]
    first = LIBRARIES[0]
    rows.append((first, f"{first.library_id}_topup", ORA_RUN))
    for lib, written_id, run_id in rows:
        index = lib.subject_index
        writer.writerow(
            [
                run_id,
                RUNS[run_id],
                written_id,
                subject_id(index),
                external_subject_id(index),
                f"PRJ24{lib.library_id[-4:]}",
                f"{external_subject_id(index)}_{lib.phenotype[0].upper()}{lib.type}",
                f"Exper{lib.run_id[:6]}",
                lib.project_id,
                PROJECTS[lib.project_id],
                lib.workflow,
                lib.phenotype,
                lib.type,
                lib.assay,
                "good",
                lib.source,
                f"UDP{int(lib.library_id[-3:]):04d}",
                f"{RUNS[run_id]} 08:00:00",
                "lims",
                "mart",
                f"IDV{index + 501:05d}",
                lib.coverage if lib.coverage else "",
            ]
        )
    return out.getvalue()


def workflows_csv(runs: list[DemoWorkflowRun]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(WORKFLOW_COLUMNS)
    for run in runs:
        for library_id in run.library_ids:
            writer.writerow(
                [
                    run.portal_run_id,
                    library_id,
                    run.workflow_name,
                    run.version,
                    run.status,
                    run.start,
                    run.end,
                    "25200",
                    "",
                    "workflow",
                    "mart",
                ]
            )
    return out.getvalue()


def _fastq_files() -> dict[str, list[tuple[str, str, str, int, str, str, bytes, bytes]]]:
    """Per run: (rgid, rgsm, rglb, lane, read1 path, read2 path, read1 bytes, read2 bytes)."""
    per_run: dict[str, list[tuple[str, str, str, int, str, str, bytes, bytes]]] = {
        run: [] for run in RUNS
    }
    entries = [(lib.run_id, lib.library_id, lib.lanes) for lib in LIBRARIES]
    entries.append((ORA_RUN, f"{TOPUP_LIBRARY}_topup", (1,)))
    for sample_number, (run_id, written_id, lanes) in enumerate(entries, start=1):
        ext = "fastq.ora" if run_id == ORA_RUN else "fastq.gz"
        for lane in lanes:
            names = [
                f"{written_id}_S{sample_number}_L{lane:03d}_R{read}_001.{ext}" for read in (1, 2)
            ]
            paths = [f"Samples/Lane_{lane}/{written_id}/{name}" for name in names]
            contents = [
                ora_bytes(f"{run_id}{name}")
                if ext == "fastq.ora"
                else fastq_bytes(f"{run_id}{name}")
                for name in names
            ]
            rgid = f"{hashlib.sha1(written_id.encode(), usedforsecurity=False).hexdigest()[:8].upper()}.{lane}"
            per_run[run_id].append(
                (rgid, written_id, written_id, lane, paths[0], paths[1], contents[0], contents[1])
            )
    return per_run


def fastq_list_csv(rows: list[tuple[str, str, str, int, str, str, bytes, bytes]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(FASTQ_LIST_COLUMNS)
    for rgid, rgsm, rglb, lane, read1, read2, _, _ in rows:
        writer.writerow([rgid, rgsm, rglb, lane, read1, read2])
    return out.getvalue()


def primary_base_uri(run_id: str) -> str:
    return f"s3://{settings.DEMO_PRIMARY_BUCKET}/primary/{run_id}/"


def _put_if_changed(
    bucket: str, key: str, body: bytes, *, storage_class: str | None = None
) -> bool:
    current = s3.head_object(bucket, key)
    unchanged = (
        current is not None
        and current.size == len(body)
        and current.etag == hashlib.md5(body, usedforsecurity=False).hexdigest()
        and (storage_class is None or current.storage_class == storage_class)
    )
    if unchanged:
        return False
    s3.put_object(bucket, key, body, storage_class=storage_class)
    return True


def seed_demo_storage(*, progress: Callable[[str], None] = lambda _msg: None) -> int:
    """Write the demo objects into S3 (only those missing or different). Returns how many."""
    primary_bucket = settings.DEMO_PRIMARY_BUCKET
    # DEMO_RECIPIENT_BUCKET stands for a collaborator's bucket: somewhere to push the demo to.
    for bucket in (
        primary_bucket,
        settings.WORKFLOW_OUTPUT_BUCKET,
        settings.ARTIFACT_BUCKET,
        DEMO_RECIPIENT_BUCKET,
    ):
        s3.ensure_bucket(bucket)
    uploaded = 0
    archived_libraries = {
        lib.library_id
        for lib in LIBRARIES
        if lib.run_id == ARCHIVED_RUN and lib.phenotype == "tumor"
    }
    progress("writing FASTQs")
    for run_id, rows in _fastq_files().items():
        base = s3.parse_s3_uri(primary_base_uri(run_id))
        for _, rgsm, _, _, read1, read2, body1, body2 in rows:
            storage_class = "DEEP_ARCHIVE" if rgsm in archived_libraries else None
            uploaded += _put_if_changed(
                base.bucket, base.child(read1).key, body1, storage_class=storage_class
            )
            uploaded += _put_if_changed(
                base.bucket, base.child(read2).key, body2, storage_class=storage_class
            )
        uploaded += _put_if_changed(
            base.bucket, base.child("Reports/fastq_list.csv").key, fastq_list_csv(rows).encode()
        )
    progress("writing workflow outputs")
    for run in workflow_runs():
        output = s3.parse_s3_uri(
            workflow_output_uri(workflow_name=run.workflow_name, portal_run_id=run.portal_run_id)
        )
        for relative, body in run.files.items():
            uploaded += _put_if_changed(output.bucket, output.child(relative).key, body)
    return uploaded


def seed_demo_catalog(
    *, demo_dir: Path, progress: Callable[[str], None] = lambda _msg: None
) -> dict[str, object]:
    """Import the demo manifests into the catalog and write them to `demo_dir` for users."""
    demo_dir.mkdir(parents=True, exist_ok=True)
    progress("importing LIMS, workflow and fastq list manifests")
    lims = lims_csv()
    workflows = workflows_csv(workflow_runs())
    (demo_dir / "lims.csv").write_text(lims)
    (demo_dir / "workflows.csv").write_text(workflows)
    results: dict[str, object] = {}
    # The manifests go through the readers users' files go through.
    results["lims"] = catalog_import_lims(records=lims_records_from_csv(lims)).as_dict()
    results["workflows"] = catalog_import_workflows(
        records=workflow_records_from_csv(workflows)
    ).as_dict()
    for run_id, rows in _fastq_files().items():
        listing = fastq_list_csv(rows)
        (demo_dir / f"fastq_list.{run_id}.csv").write_text(listing)
        base_uri = primary_base_uri(run_id)
        results[f"fastqList {run_id}"] = catalog_import_fastq_list(
            records=fastq_list_records_from_csv(listing, base_uri=base_uri),
            instrument_run_id=run_id,
            base_uri=base_uri,
        ).as_dict()
    results["storage"] = catalog_sync_prefix(
        uri=f"s3://{settings.WORKFLOW_OUTPUT_BUCKET}/analysis/"
    ).as_dict()
    _write_manifests(demo_dir)
    return results


def seed_demo(
    *, demo_dir: Path, progress: Callable[[str], None] = lambda _msg: None
) -> dict[str, object]:
    """Write the demo facility into S3 and the catalog; returns what was written."""
    uploaded = seed_demo_storage(progress=progress)
    results = {
        "objectsUploaded": uploaded,
        **seed_demo_catalog(demo_dir=demo_dir, progress=progress),
    }
    logger.info("demo data seeded: %s", results)
    return results


def _write_manifests(demo_dir: Path) -> None:
    """Example request manifests for the CLI (`data-sharing-tool generate-package`): libraries
    with no archived FASTQs, so the package can be pushed and presigned straight away."""
    cup = [
        lib
        for lib in LIBRARIES
        if lib.project_id == "CUP" and not (lib.run_id == ARCHIVED_RUN and lib.phenotype == "tumor")
    ]
    with (demo_dir / "lims_manifest.csv").open("w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["library_id", "subject_id", "project_id"])
        for lib in cup[:6]:
            writer.writerow([lib.library_id, subject_id(lib.subject_index), lib.project_id])
