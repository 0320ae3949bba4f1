"""Resolve a package request over 2,000 libraries / 20,000 files: wall time and SQL queries.

The facility (written to a local SeaweedFS and imported through the real importers): 1,000
tumor/normal pairs on one run, two lanes each (8,000 FASTQ files), and one tumor-normal workflow
run per pair with 12 deliverables (12,000 files) plus a log and a cache file that are left out.

Figures: resolution from the catalog alone, resolution with the output listings (one S3 listing
per workflow run, PACKAGE_S3_CONCURRENCY at a time), and the whole build (resolve, freeze, write
manifest and checksums). The query count is also shown for 200 libraries: it does not grow.

Run: .venv/bin/python -m bench.bench_resolve
"""

from __future__ import annotations

import os
import time

from bench import harness

PAIRS = 1_000


def main() -> None:
    os.environ.setdefault(
        "DATABASE_URL", "postgres://postgres@127.0.0.1:5432/datasharing_bench_resolve"
    )
    harness.setup(s3=True)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from datasharing import s3
    from packages_app import services
    from packages_app.models import Package
    from packages_app.package_request import package_request_parse
    from packages_app.resolution import package_contents_resolve
    from tests.packages_app.facility import build_facility

    bucket = "bench-resolve"
    s3.ensure_bucket(bucket)
    start = time.perf_counter()
    small = build_facility(bucket=bucket, pairs=PAIRS // 10, lanes=(1, 2), project_id="SMALL")
    large = build_facility(
        bucket=bucket, pairs=PAIRS, first=PAIRS, lanes=(1, 2), project_id="LARGE"
    )
    setup_seconds = time.perf_counter() - start

    def resolve(library_ids: list[str], *, refresh: bool, repeat: int) -> tuple[float, int, int]:
        request = package_request_parse(
            {"libraryIdList": library_ids, "dataTypeList": ["fastq", "secondaryAnalysis"]}
        )
        with CaptureQueriesContext(connection) as queries:
            seconds, resolution = harness.timed(
                lambda: package_contents_resolve(request=request, refresh_storage=refresh),
                repeat=repeat,
            )
        return seconds, len(queries.captured_queries) // repeat, len(resolution.files)

    lines = [
        f"- facility: {len(large.library_ids):,} libraries on one run, {PAIRS:,} workflow runs, "
        f"written to SeaweedFS and imported in {setup_seconds:.0f} s (and {len(small.library_ids)}"
        " libraries to compare query counts)"
    ]
    for facility in (small, large):
        ids = facility.library_ids
        cold_s, cold_q, files = resolve(ids, refresh=True, repeat=1)
        warm_s, warm_q, _ = resolve(ids, refresh=True, repeat=3)
        catalog_s, catalog_q, _ = resolve(ids, refresh=False, repeat=3)
        lines.append(
            f"- {len(ids):,} libraries / {files:,} files, {len(facility.pairs):,} output "
            f"listings: first resolve (catalogues the outputs) {cold_s:.2f} s, {cold_q} queries; "
            f"again {warm_s:.2f} s, {warm_q} queries; from the catalog alone (no listings) "
            f"{catalog_s:.2f} s, {catalog_q} queries"
        )

    # Tasks run inline here (CELERY_TASK_ALWAYS_EAGER): create validates, then builds.
    with CaptureQueriesContext(connection) as queries:
        build_seconds, package = harness.timed(
            lambda: services.package_create(
                package_name="bench",
                package_request={
                    "libraryIdList": large.library_ids,
                    "dataTypeList": ["fastq", "secondaryAnalysis"],
                },
                user=None,
            ),
            repeat=1,
        )
    package = Package.objects.get(id=package.id)
    lines.append(
        f"- create and build {package.library_count:,} libraries / {package.file_count:,} files "
        f"(validate, resolve with listings, freeze, manifest and checksums): "
        f"{build_seconds:.2f} s, {len(queries.captured_queries)} queries, {package.status}"
    )
    harness.report("resolve", lines)


if __name__ == "__main__":
    main()
