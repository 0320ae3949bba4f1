"""The number of SQL queries to resolve and build a package does not grow with the number of
libraries (set-based resolution; the timing is in bench/bench_resolve.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from packages_app import services
from packages_app.models import Package, PackageStatus
from packages_app.package_request import package_request_parse
from packages_app.resolution import package_contents_resolve
from tests.packages_app.facility import build_facility

pytestmark = pytest.mark.django_db

REQUEST = {"dataTypeList": ["fastq", "secondaryAnalysis"]}


def resolve_queries(project_id: str) -> tuple[int, int]:
    request = package_request_parse({**REQUEST, "projectIdList": [project_id]})
    with CaptureQueriesContext(connection) as queries:
        resolution = package_contents_resolve(request=request, refresh_storage=True)
    return len(queries.captured_queries), len(resolution.files)


def build_queries(project_id: str, capture: Any) -> tuple[int, Package]:
    with capture(execute=False):
        package = services.package_create(
            package_name=project_id,
            package_request={**REQUEST, "projectIdList": [project_id]},
            user=None,
        )
    with CaptureQueriesContext(connection) as queries:
        services.package_build(package_id=package.id)
    package.refresh_from_db()
    assert package.status == PackageStatus.SUCCEEDED, package.error_message
    return len(queries.captured_queries), package


def test_query_count_does_not_depend_on_the_number_of_libraries(
    source_bucket_factory: Callable[[str], str], django_capture_on_commit_callbacks: Any
) -> None:
    small = build_facility(
        bucket=source_bucket_factory("qc"), pairs=3, project_id="SMALL", lanes=(1, 2)
    )
    large = build_facility(
        bucket=source_bucket_factory("qc"), pairs=24, first=100, project_id="LARGE", lanes=(1, 2)
    )
    small_queries, small_files = resolve_queries("SMALL")
    large_queries, large_files = resolve_queries("LARGE")
    # 6 libraries x 2 lanes x R1/R2 + 3 runs x 12 deliverables, and 8 times that.
    assert (small_files, large_files) == (6 * 4 + 3 * 12, 48 * 4 + 24 * 12)
    assert small_queries == large_queries, (small_queries, large_queries)
    assert small_queries <= 20

    small_build, small_package = build_queries("SMALL", django_capture_on_commit_callbacks)
    large_build, large_package = build_queries("LARGE", django_capture_on_commit_callbacks)
    assert (small_package.library_count, large_package.library_count) == (
        len(small.library_ids),
        len(large.library_ids),
    )
    assert small_build == large_build, (small_build, large_build)
