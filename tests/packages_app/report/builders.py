"""Frozen packages for report tests and the report benchmark, built without the resolver.

- `freeze_demo_package` freezes demo-catalog data (the `demo_catalog` fixture) the way packaging
  does: a metadata snapshot per library, the latest successful workflow runs, and one PackageFile
  per FASTQ / output object with the recipient's relative path, from real S3-backed catalog rows
  (archived FASTQs included).
- `make_synthetic_package` writes a large package straight into the database (no S3 objects),
  for benchmarks and size-dependent behaviour.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from typing import Any

from django.contrib.auth.models import User
from django.utils import timezone

from catalog_app.models import Fastq, Library, StoredObject, WorkflowRun
from datasharing import s3
from packages_app.models import (
    DataType,
    Package,
    PackageAnalysis,
    PackageFile,
    PackageLibrary,
    PackageStatus,
)

EXCLUDED_OUTPUT_FOLDERS = {"logs", "cache"}


def library_snapshot(library: Library) -> dict[str, Any]:
    """The LIMS metadata frozen into PackageLibrary.metadata (the catalog API's field names)."""
    subject = library.subject
    return {
        "sample_id": library.sample_id,
        "external_sample_id": library.external_sample_id,
        "subject_id": subject.internal_subject_id if subject else None,
        "external_subject_id": subject.external_subject_id if subject else None,
        "individual_id": subject.individual.individual_id
        if subject and subject.individual
        else None,
        "project_ids": sorted(project.project_id for project in library.projects.all()),
        "instrument_run_ids": sorted({run.instrument_run_id for run in library.runs.all()}),
        "phenotype": library.phenotype,
        "type": library.type,
        "assay": library.assay,
        "workflow": library.workflow,
        "quality": library.quality,
        "source": library.source,
        "coverage": library.coverage,
    }


def _prefixed(prefix: str, *parts: str) -> str:
    return "/".join(part for part in (prefix.strip("/"), *parts) if part)


def _file_from_object(
    package: Package, obj: StoredObject, relative_path: str, data_type: str, **links: Any
) -> PackageFile:
    assert obj.size is not None, f"{obj.uri} was never seen in storage"
    return PackageFile(
        package=package,
        relative_path=relative_path,
        data_type=data_type,
        source_bucket=obj.bucket,
        source_key=obj.key,
        size=obj.size,
        etag=obj.etag,
        md5=obj.md5,
        sha256=obj.sha256,
        storage_class=obj.storage_class,
        restore_state=obj.restore_state,
        stored_object=obj,
        **links,
    )


def latest_successful_runs(libraries: Sequence[Library]) -> list[WorkflowRun]:
    """Per library and workflow name, the newest SUCCEEDED run (as the resolver picks them)."""
    chosen: dict[str, WorkflowRun] = {}
    runs = (
        WorkflowRun.objects.filter(libraries__in=libraries, status="SUCCEEDED")
        .prefetch_related("libraries")
        .distinct()
        .order_by("-start_time")
    )
    seen: set[tuple[int, str]] = set()
    for run in runs:
        for library in run.libraries.all():
            if library in libraries and (library.pk, run.workflow_name) not in seen:
                seen.add((library.pk, run.workflow_name))
                chosen[run.portal_run_id] = run
    return sorted(chosen.values(), key=lambda run: (run.workflow_name, run.portal_run_id))


def freeze_demo_package(
    *,
    name: str = "demo-report",
    library_ids: Iterable[str] | None = None,
    data_types: Sequence[str] = (DataType.FASTQ, DataType.SECONDARY_ANALYSIS),
    user: User | None = None,
    status: str = PackageStatus.SUCCEEDED,
    primary_prefix: str = "fastq",
    secondary_prefix: str = "secondary-analysis",
    expires_in: dt.timedelta = dt.timedelta(days=30),
) -> Package:
    """A package of demo-catalog libraries, frozen as packaging would freeze it."""
    libraries_qs = Library.objects.select_related("subject__individual").prefetch_related(
        "projects", "runs"
    )
    if library_ids is not None:
        libraries_qs = libraries_qs.filter(library_id__in=list(library_ids))
    libraries = list(libraries_qs.order_by("library_id"))
    now = timezone.now()
    package = Package.objects.create(
        package_name=name,
        status=status,
        request={
            "library_id_list": [library.library_id for library in libraries],
            "data_type_list": list(data_types),
            "defrost_archived_fastqs": False,
            "use_workflow_filters": False,
            "primary_data_path_prefix": primary_prefix,
            "secondary_analysis_path_prefix": secondary_prefix,
        },
        requested_by=user,
        start_time=now - dt.timedelta(minutes=3),
        completion_time=now if status == PackageStatus.SUCCEEDED else None,
        expires_at=now + expires_in,
    )
    PackageLibrary.objects.bulk_create(
        [
            PackageLibrary(
                package=package,
                catalog_library=library,
                library_id=library.library_id,
                metadata=library_snapshot(library),
            )
            for library in libraries
        ]
    )
    files: list[PackageFile] = []
    fastq_count = 0
    if DataType.FASTQ in data_types:
        fastqs = Fastq.objects.filter(library__in=libraries).select_related(
            "library", "run", "read1", "read2"
        )
        for fastq in fastqs:
            fastq_count += 1
            for read_number, obj in ((1, fastq.read1), (2, fastq.read2)):
                if obj is None:
                    continue
                files.append(
                    _file_from_object(
                        package,
                        obj,
                        _prefixed(
                            primary_prefix,
                            fastq.run.instrument_run_id,
                            f"Lane_{fastq.lane}",
                            fastq.source_library_id,
                            obj.file_name,
                        ),
                        DataType.FASTQ,
                        catalog_library=fastq.library,
                        fastq=fastq,
                        library_id=fastq.library.library_id,
                        instrument_run_id=fastq.run.instrument_run_id,
                        lane=fastq.lane,
                        read_number=read_number,
                    )
                )
    runs: list[WorkflowRun] = []
    if DataType.SECONDARY_ANALYSIS in data_types:
        runs = latest_successful_runs(libraries)
        PackageAnalysis.objects.bulk_create(
            [
                PackageAnalysis(
                    package=package,
                    workflow_run=run,
                    portal_run_id=run.portal_run_id,
                    workflow_name=run.workflow_name,
                    workflow_version=run.workflow_version,
                    status=run.status,
                    start_time=run.start_time,
                    end_time=run.end_time,
                    output_uri=run.output_uri,
                    library_ids=sorted(library.library_id for library in run.libraries.all()),
                )
                for run in runs
            ]
        )
        for run in runs:
            output = s3.parse_s3_uri(run.output_uri)
            prefix = output.key if output.key.endswith("/") else output.key + "/"
            for obj in StoredObject.objects.filter(
                bucket=output.bucket, key__startswith=prefix, missing=False
            ).order_by("key"):
                below = obj.key[len(prefix) :]
                if below.split("/", 1)[0] in EXCLUDED_OUTPUT_FOLDERS:
                    continue
                files.append(
                    _file_from_object(
                        package,
                        obj,
                        _prefixed(secondary_prefix, run.workflow_name, run.portal_run_id, below),
                        DataType.SECONDARY_ANALYSIS,
                        workflow_run=run,
                        portal_run_id=run.portal_run_id,
                        workflow_name=run.workflow_name,
                    )
                )
    PackageFile.objects.bulk_create(files)
    package.library_count = len(libraries)
    package.fastq_count = fastq_count
    package.workflow_run_count = len(runs)
    package.file_count = len(files)
    package.total_bytes = sum(file.size for file in files)
    package.archived_file_count = sum(1 for file in files if file.needs_restore)
    package.save()
    return package


# --- Synthetic packages (benchmarks, size-dependent behaviour) --------------------------------


def _md5(seed: str) -> str:
    return hashlib.md5(seed.encode(), usedforsecurity=False).hexdigest()


def make_synthetic_package(
    *,
    libraries: int,
    name: str = "synthetic-report",
    lanes: int = 2,
    runs: int = 40,
    projects: int = 12,
    archived_every: int = 9,
    outputs_per_analysis: int = 8,
    user: User | None = None,
) -> Package:
    """A SUCCEEDED package of `libraries` libraries, written straight into the database.

    Per library: `lanes` lanes of R1/R2 FASTQs (every `archived_every`-th library in
    DEEP_ARCHIVE); per tumor/normal pair: one tumor-normal analysis with `outputs_per_analysis`
    files. 5,000 libraries give 20,000 FASTQs, 2,500 analyses and 20,000 secondary files.
    """
    now = timezone.now()
    package = Package.objects.create(
        package_name=name,
        status=PackageStatus.SUCCEEDED,
        request={
            "project_id_list": [f"PRJ{number:03d}" for number in range(projects)],
            "data_type_list": [DataType.FASTQ, DataType.SECONDARY_ANALYSIS],
        },
        requested_by=user,
        start_time=now,
        completion_time=now,
        expires_at=now + dt.timedelta(days=30),
    )
    run_ids = [
        f"24{(number % 12) + 1:02d}{(number % 28) + 1:02d}_A0{number % 3}130_{number:04d}_BH{number:04d}DSXC"
        for number in range(runs)
    ]
    library_rows = []
    file_rows: list[PackageFile] = []
    analysis_rows = []
    for number in range(libraries):
        library_id = f"L24{number:05d}"
        subject = f"SBJ{number // 2:05d}"
        run_id = run_ids[number % runs]
        phenotype = "tumor" if number % 2 == 0 else "normal"
        library_rows.append(
            PackageLibrary(
                package=package,
                library_id=library_id,
                metadata={
                    "sample_id": f"PRJ24{number:05d}",
                    "external_sample_id": f"EXT-{number:06d}-{phenotype[0].upper()}",
                    "subject_id": subject,
                    "external_subject_id": f"PM{3000000 + number // 2}",
                    "individual_id": f"IDV{number // 2:05d}",
                    "project_ids": [f"PRJ{(number // 2) % projects:03d}"],
                    "instrument_run_ids": [run_id],
                    "phenotype": phenotype,
                    "type": "WGS",
                    "assay": "TsqNano",
                    "workflow": "clinical",
                    "quality": "good",
                    "source": "FFPE" if phenotype == "tumor" else "blood",
                    "coverage": 80.0 if phenotype == "tumor" else 40.0,
                },
            )
        )
        archived = number % archived_every == 0
        for lane in range(1, lanes + 1):
            for read in (1, 2):
                file_name = f"{library_id}_S{number % 384 + 1}_L{lane:03d}_R{read}_001.fastq.gz"
                key = f"primary/{run_id}/Samples/Lane_{lane}/{library_id}/{file_name}"
                file_rows.append(
                    PackageFile(
                        package=package,
                        relative_path=f"fastq/{run_id}/Lane_{lane}/{library_id}/{file_name}",
                        data_type=DataType.FASTQ,
                        source_bucket="facility-primary",
                        source_key=key,
                        size=6_000_000_000 + (number * 7919 + lane * 104729 + read) % 9_000_000_000,
                        etag=_md5(key),
                        storage_class="DEEP_ARCHIVE" if archived else "STANDARD",
                        library_id=library_id,
                        instrument_run_id=run_id,
                        lane=lane,
                        read_number=read,
                    )
                )
        if phenotype == "normal":
            tumor = f"L24{number - 1:05d}"
            portal_run_id = (
                f"2024{(number % 12) + 1:02d}{(number % 28) + 1:02d}{_md5(library_id)[:8]}"
            )
            analysis_rows.append(
                PackageAnalysis(
                    package=package,
                    portal_run_id=portal_run_id,
                    workflow_name="tumor-normal",
                    workflow_version="4.3.6",
                    status="SUCCEEDED",
                    start_time=now - dt.timedelta(days=3),
                    end_time=now - dt.timedelta(days=2),
                    output_uri=f"s3://facility-analysis/analysis/tumor-normal/{portal_run_id}/",
                    library_ids=[tumor, library_id],
                )
            )
            base = f"{subject}__{tumor}_{library_id}"
            outputs = [
                f"{tumor}/{tumor}.bam",
                f"{tumor}/{tumor}.bam.bai",
                f"{library_id}/{library_id}.bam",
                f"{library_id}/{library_id}.bam.bai",
                f"{base}/{base}.hard-filtered.vcf.gz",
                f"{base}/{base}.hard-filtered.vcf.gz.tbi",
                f"{base}/{base}.somatic.hard-filtered.vcf.gz",
                f"{base}/{base}.somatic.hard-filtered.vcf.gz.tbi",
                f"{base}/{base}.sv.vcf.gz",
                f"{base}/{base}.mapping_metrics.csv",
            ][:outputs_per_analysis]
            for index, output in enumerate(outputs):
                file_rows.append(
                    PackageFile(
                        package=package,
                        relative_path=f"secondary-analysis/tumor-normal/{portal_run_id}/{output}",
                        data_type=DataType.SECONDARY_ANALYSIS,
                        source_bucket="facility-analysis",
                        source_key=f"analysis/tumor-normal/{portal_run_id}/{output}",
                        size=(90_000_000_000 if output.endswith(".bam") else 3_000_000) + index,
                        etag=_md5(output),
                        portal_run_id=portal_run_id,
                        workflow_name="tumor-normal",
                    )
                )
    PackageLibrary.objects.bulk_create(library_rows, batch_size=2000)
    PackageAnalysis.objects.bulk_create(analysis_rows, batch_size=2000)
    PackageFile.objects.bulk_create(file_rows, batch_size=2000)
    package.library_count = len(library_rows)
    package.fastq_count = sum(1 for row in file_rows if row.data_type == DataType.FASTQ)
    package.workflow_run_count = len(analysis_rows)
    package.file_count = len(file_rows)
    package.total_bytes = sum(row.size for row in file_rows)
    package.archived_file_count = sum(1 for row in file_rows if row.needs_restore)
    package.save()
    return package


# --- Reading a rendered report back (tests) ------------------------------------------------------

_DATA_ISLAND = re.compile(
    r'<script id="report-data" type="application/json">(?P<json>.*?)</script>', re.S
)


def report_data(html: str) -> dict[str, Any]:
    """The JSON data island of an HTML report, with dictionary-encoded columns expanded."""
    match = _DATA_ISLAND.search(html)
    assert match, "the report has no data island"
    data = json.loads(match.group("json"))
    for table in data["tables"]:
        for position, values in table["dictionaries"].items():
            for row in table["rows"]:
                row[int(position)] = values[row[int(position)]]
    return data


def report_records(html: str, table_key: str) -> list[dict[str, Any]]:
    """Rows of one report table as {column key: value} dicts."""
    table = next(t for t in report_data(html)["tables"] if t["key"] == table_key)
    keys = [column["key"] for column in table["columns"]]
    return [dict(zip(keys, row, strict=True)) for row in table["rows"]]
