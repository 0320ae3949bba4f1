"""List endpoint latency from 100 to 100,000 packages (SPEC §12: flat).

Times `GET /api/v1/package/` (first page, a status filter, a date filter, page 50) in-process
through the full Django/DRF stack on Postgres, median of 30 requests each.

Run: .venv/bin/python -m bench.bench_list_packages
"""

from __future__ import annotations

import datetime as dt
import statistics
import time

from bench import harness

SIZES = (100, 10_000, 100_000)
QUERIES = {
    "first page": "/api/v1/package/?rowsPerPage=100",
    "status=FAILED": "/api/v1/package/?status=FAILED&rowsPerPage=100",
    "requestAfter (last 10 days)": "/api/v1/package/?requestAfter={after}&rowsPerPage=100",
    "page 50": "/api/v1/package/?page=50&rowsPerPage=2",
}


def main() -> None:
    harness.setup()
    from django.contrib.auth.models import Group, User
    from django.utils import timezone
    from rest_framework.test import APIClient

    from packages_app.models import Package

    user = User.objects.create_user("bench-viewer")
    user.groups.add(Group.objects.get(name="viewer"))
    client = APIClient()
    client.force_authenticate(user)
    start = timezone.now() - dt.timedelta(days=400)
    lines = []
    created = 0
    statuses = ["SUCCEEDED"] * 8 + ["FAILED", "ABORTED"]
    for size in SIZES:
        batch = []
        for i in range(created, size):
            when = start + dt.timedelta(minutes=5 * i)
            batch.append(
                Package(
                    package_name=f"bench-{i}",
                    status=statuses[i % len(statuses)],
                    request={"library_id_list": [f"L{i:07d}"], "data_type_list": ["fastq"]},
                    request_time=when,
                    completion_time=when + dt.timedelta(minutes=3),
                    expires_at=when + dt.timedelta(days=30),
                    file_count=10,
                    total_bytes=10_000,
                )
            )
            if len(batch) == 5000:
                Package.objects.bulk_create(batch)
                batch = []
        Package.objects.bulk_create(batch)
        created = size
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("ANALYZE packages_app_package")
        after = (start + dt.timedelta(minutes=5 * size) - dt.timedelta(days=10)).date().isoformat()
        figures = []
        for label, url in QUERIES.items():
            path = url.format(after=after)
            assert client.get(path).status_code == 200, path
            times = []
            for _ in range(30):
                t0 = time.perf_counter()
                response = client.get(path)
                times.append(time.perf_counter() - t0)
                assert response.status_code == 200
            figures.append(f"{label} {statistics.median(times) * 1000:.1f} ms")
        lines.append(f"- {size:>7,} packages: " + "; ".join(figures))
    harness.report("list_packages", lines)


if __name__ == "__main__":
    main()
