"""A synthetic sequencing facility of any size, written to S3 and imported through the real
importers (LIMS, fastq list, workflow manifest): tumor/normal pairs on one instrument run, each
pair with a successful tumor-normal workflow run. Used by tests and by bench/bench_resolve.py."""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from data_sharing_formats.columns import LIMS_COLUMNS, WORKFLOW_COLUMNS

from catalog_app.importers.fastq_list import (
    FASTQ_LIST_COLUMNS,
    catalog_import_fastq_list,
    fastq_list_records_from_csv,
)
from catalog_app.importers.lims import catalog_import_lims, lims_records_from_csv
from catalog_app.importers.workflows import catalog_import_workflows, workflow_records_from_csv
from datasharing import s3

RUN_ID = "240105_A00001_0001_AFACILITY"


def tumor_normal_tree(subject: str, tumor: str, normal: str) -> list[str]:
    """12 deliverables of a DRAGEN tumor/normal run, plus a log and a cache file."""
    base = f"{subject}__{tumor}_{normal}"
    return [
        f"{tumor}/{tumor}.bam",
        f"{tumor}/{tumor}.bam.bai",
        f"{tumor}/{tumor}.bam.md5sum",
        f"{normal}/{normal}.bam",
        f"{normal}/{normal}.bam.bai",
        f"{normal}/{normal}.bam.md5sum",
        f"{base}/{base}.hard-filtered.vcf.gz",
        f"{base}/{base}.hard-filtered.vcf.gz.tbi",
        f"{base}/{base}.sv.vcf.gz",
        f"{base}/{base}.sv.vcf.gz.tbi",
        f"{base}/{base}.mapping_metrics.csv",
        f"{base}/{base}.wgs_coverage_metrics.csv",
        "logs/dragen.log",
        "cache/scratch.bin",
    ]


@dataclass
class Pair:
    subject: str
    tumor: str
    normal: str
    portal_run_id: str


@dataclass
class Facility:
    bucket: str
    run_id: str
    lanes: tuple[int, ...]
    pairs: list[Pair] = field(default_factory=list)

    @property
    def library_ids(self) -> list[str]:
        return [lib for pair in self.pairs for lib in (pair.tumor, pair.normal)]

    def fastq_name(self, library_id: str, lane: int, read: int) -> str:
        number = self.library_ids.index(library_id) + 1
        return f"{library_id}_S{number}_L{lane:03d}_R{read}_001.fastq.gz"

    def output_prefix(self, pair: Pair) -> str:
        return f"analysis/tumor-normal/{pair.portal_run_id}/"


def _csv(header: Iterable[str], rows: Iterable[Iterable[object]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(list(header))
    writer.writerows(rows)
    return out.getvalue()


def _put_all(
    bucket: str, objects: dict[str, bytes], storage_class: str | None, workers: int
) -> None:
    def put(item: tuple[str, bytes]) -> None:
        s3.put_object(bucket, item[0], item[1], storage_class=storage_class)

    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(put, objects.items()))


def build_facility(
    *,
    bucket: str,
    pairs: int,
    first: int = 0,
    run_id: str = RUN_ID,
    lanes: tuple[int, ...] = (1,),
    project_id: str = "FAC",
    fastq_storage_class: str | None = None,
    workers: int = 16,
) -> Facility:
    """Write and import `pairs` tumor/normal pairs (numbered from `first`)."""
    facility = Facility(bucket=bucket, run_id=run_id, lanes=lanes)
    for index in range(first, first + pairs):
        facility.pairs.append(
            Pair(
                subject=f"SBJ9{index:05d}",
                tumor=f"L9{2 * index:06d}",
                normal=f"L9{2 * index + 1:06d}",
                portal_run_id="20240110" + hashlib.sha256(f"tn{index}".encode()).hexdigest()[:8],
            )
        )
    lims_rows = []
    for pair in facility.pairs:
        for library_id, phenotype in ((pair.tumor, "tumor"), (pair.normal, "normal")):
            values = dict.fromkeys(LIMS_COLUMNS, "")
            values.update(
                sequencing_run_id=run_id,
                sequencing_run_date="2024-01-05",
                library_id=library_id,
                internal_subject_id=pair.subject,
                external_subject_id=f"EXT-{pair.subject}",
                sample_id=f"PRJ{library_id}",
                project_id=project_id,
                owner_id="Tester",
                phenotype=phenotype,
                type="WGS",
                assay="TsqNano",
                workflow="clinical",
                quality="good",
                source="blood",
            )
            lims_rows.append([values[c] for c in LIMS_COLUMNS])
    catalog_import_lims(records=lims_records_from_csv(_csv(LIMS_COLUMNS, lims_rows)))

    fastq_objects: dict[str, bytes] = {}
    fastq_rows = []
    base_key = f"primary/{run_id}/"
    for library_id in facility.library_ids:
        for lane in lanes:
            paths = []
            for read in (1, 2):
                name = facility.fastq_name(library_id, lane, read)
                path = f"Samples/Lane_{lane}/{library_id}/{name}"
                fastq_objects[base_key + path] = f"@{name}\nACGT\n+\nIIII\n".encode()
                paths.append(path)
            fastq_rows.append([f"RG{library_id}.{lane}", library_id, library_id, lane, *paths])
    _put_all(bucket, fastq_objects, fastq_storage_class, workers)
    catalog_import_fastq_list(
        records=fastq_list_records_from_csv(
            _csv(FASTQ_LIST_COLUMNS, fastq_rows), base_uri=f"s3://{bucket}/{base_key}"
        ),
        instrument_run_id=run_id,
        base_uri=f"s3://{bucket}/{base_key}",
        # Facilities built into one run add to it (a fastq list file would replace it).
        authoritative=False,
    )

    output_objects: dict[str, bytes] = {}
    workflow_rows = []
    for pair in facility.pairs:
        prefix = facility.output_prefix(pair)
        for relative in tumor_normal_tree(pair.subject, pair.tumor, pair.normal):
            output_objects[prefix + relative] = f"{pair.portal_run_id} {relative}\n".encode()
        for library_id in (pair.tumor, pair.normal):
            workflow_rows.append(
                [
                    pair.portal_run_id,
                    library_id,
                    "tumor-normal",
                    "4.2.4",
                    "SUCCEEDED",
                    "2024-01-10T01:00:00Z",
                    "2024-01-10T09:00:00Z",
                    "28800",
                    "",
                    "workflow",
                    "mart",
                    f"s3://{bucket}/{prefix}",
                ]
            )
    _put_all(bucket, output_objects, None, workers)
    catalog_import_workflows(
        records=workflow_records_from_csv(_csv([*WORKFLOW_COLUMNS, "output_uri"], workflow_rows))
    )
    return facility
