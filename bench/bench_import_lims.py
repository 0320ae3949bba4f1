"""LIMS import of 5,000 rows: wall time and SQL query count (first import and re-import).

Run: .venv/bin/python -m bench.bench_import_lims
"""

from __future__ import annotations

from bench import harness


def lims_text(rows: int) -> str:
    from data_sharing_formats.columns import LIMS_COLUMNS

    lines = [",".join(LIMS_COLUMNS)]
    runs = [f"2410{d:02d}_A00130_{d:04d}_BHW7MVDSXC" for d in range(1, 29)]
    for i in range(rows):
        run = runs[i % len(runs)]
        lines.append(
            ",".join(
                [
                    run,
                    f"2024-10-{(i % 28) + 1:02d}",
                    f"L24{i:05d}",
                    f"SBJ{i // 3:05d}",
                    f"PM{i // 3:07d}",
                    f"PRJ{i:06d}",
                    f"EXT{i:06d}",
                    "Exper1",
                    f"PRJ{i % 20:02d}",
                    "owner",
                    "clinical",
                    "tumor" if i % 2 else "normal",
                    "WGS",
                    "TsqNano",
                    "good",
                    "FFPE",
                    f"UDP{i % 384:04d}",
                    "2024-10-25 08:00:00",
                    "lims",
                    "mart",
                ]
            )
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    harness.setup()
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from catalog_app.importers.lims import catalog_import_lims, lims_records_from_csv
    from catalog_app.models import Library

    lines = []
    for rows in (1_000, 5_000):
        text = lims_text(rows)
        Library.objects.all().delete()
        with CaptureQueriesContext(connection) as first_queries:
            first_time, first = harness.timed(
                lambda text=text: catalog_import_lims(records=lims_records_from_csv(text)), repeat=1
            )
        with CaptureQueriesContext(connection) as again_queries:
            again_time, again = harness.timed(
                lambda text=text: catalog_import_lims(records=lims_records_from_csv(text)), repeat=1
            )
        lines.append(
            f"- {rows:,} rows: first import {first_time:.2f} s, {len(first_queries.captured_queries)} queries "
            f"({first.created} created); re-import {again_time:.2f} s, "
            f"{len(again_queries.captured_queries)} queries ({again.unchanged} unchanged)"
        )
    harness.report("import_lims", lines)


if __name__ == "__main__":
    main()
