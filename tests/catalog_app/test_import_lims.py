from __future__ import annotations

import io
from typing import Any

import pytest
from data_sharing_formats.columns import LIMS_COLUMNS
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from catalog_app.importers.base import ImportResult
from catalog_app.importers.lims import catalog_import_lims, lims_records_from_csv
from catalog_app.models import Library, LibraryRun, Project, SequencingRun, Subject
from datasharing.errors import DomainError

HEADER = ",".join(LIMS_COLUMNS)


def lims_row(**overrides: str) -> str:
    values = {
        "sequencing_run_id": "241024_A00130_0336_BHW7MVDSXC",
        "sequencing_run_date": "2024-10-24",
        "library_id": "L2401544",
        "internal_subject_id": "SBJ05678",
        "external_subject_id": "PM1234567",
        "sample_id": "PRJ241234",
        "external_sample_id": "PM1234567_T",
        "experiment_id": "Exper241024",
        "project_id": "CUP",
        "owner_id": "Tothill",
        "workflow": "clinical",
        "phenotype": "tumor",
        "type": "WGS",
        "assay": "TsqNano",
        "quality": "good",
        "source": "FFPE",
        "truseq_index": "UDP0001",
        "load_datetime": "2024-10-25 08:00:00",
        "partition_schema_name": "lims",
        "partition_name": "mart",
    }
    values.update(overrides)
    return ",".join(values[column] for column in LIMS_COLUMNS)


def lims_file(*rows: str) -> str:
    return "\n".join([HEADER, *rows]) + "\n"


def import_lims(*, text: str) -> ImportResult:
    """Read a LIMS file, then import its records: the two steps the API and the command take."""
    return catalog_import_lims(records=lims_records_from_csv(text))


pytestmark = pytest.mark.django_db


def test_import_creates_library_with_subject_project_and_run() -> None:
    result = import_lims(
        text=lims_file(lims_row(), lims_row(library_id="L2401545", phenotype="normal"))
    )
    assert result.as_dict() == {"created": 2, "updated": 0, "unchanged": 0}
    library = Library.objects.get(library_id="L2401544")
    assert library.subject is not None and library.subject.external_subject_id == "PM1234567"
    assert [p.project_id for p in library.projects.all()] == ["CUP"]
    assert [r.instrument_run_id for r in library.runs.all()] == ["241024_A00130_0336_BHW7MVDSXC"]
    assert str(SequencingRun.objects.get().run_date) == "2024-10-24"


def test_reimporting_the_same_file_changes_nothing() -> None:
    text = lims_file(lims_row(), lims_row(library_id="L2401545"))
    import_lims(text=text)
    before = list(Library.objects.order_by("pk").values())
    result = import_lims(text=text)
    assert result.as_dict() == {"created": 0, "updated": 0, "unchanged": 2}
    assert list(Library.objects.order_by("pk").values()) == before


def test_changed_values_count_as_updated() -> None:
    import_lims(text=lims_file(lims_row()))
    result = import_lims(text=lims_file(lims_row(quality="poor", project_id="PanCan")))
    assert result.as_dict() == {"created": 0, "updated": 1, "unchanged": 0}
    library = Library.objects.get(library_id="L2401544")
    assert library.quality == "poor"
    assert [p.project_id for p in library.projects.all()] == ["PanCan"]


def test_topup_rows_belong_to_the_base_library() -> None:
    result = import_lims(
        text=lims_file(
            lims_row(),
            lims_row(
                library_id="L2401544_topup2", sequencing_run_id="241101_A01052_0221_AHVTC2DSXC"
            ),
        )
    )
    assert result.created == 2
    assert list(Library.objects.values_list("library_id", flat=True)) == ["L2401544"]
    assert set(LibraryRun.objects.values_list("source_library_id", flat=True)) == {
        "L2401544",
        "L2401544_topup2",
    }


def test_bad_header_names_the_missing_column_and_imports_nothing() -> None:
    text = lims_file(lims_row()).replace("library_id", "libraryid", 1)
    with pytest.raises(DomainError) as excinfo:
        import_lims(text=text)
    assert excinfo.value.details["line"] == 1
    assert "library_id" in excinfo.value.message
    assert Library.objects.count() == 0


def test_unknown_column_is_rejected() -> None:
    text = lims_file(lims_row()).replace("partition_name\n", "partition_name,surprise\n", 1)
    text = text.replace("mart\n", "mart,x\n")
    with pytest.raises(DomainError, match="unknown column"):
        import_lims(text=text)


def test_bad_row_fails_whole_import_with_line_and_column() -> None:
    text = lims_file(
        lims_row(),
        lims_row(library_id="L2401545"),
        lims_row(library_id="L2401546", sequencing_run_date="24/10/2024"),
    )
    with pytest.raises(DomainError) as excinfo:
        import_lims(text=text)
    assert excinfo.value.details == {
        "line": 4,
        "column": "sequencing_run_date",
        "reason": "'24/10/2024' is not a valid date (YYYY-MM-DD)",
    }
    assert "line 4" in excinfo.value.message
    assert (
        Library.objects.count() == 0
        and Project.objects.count() == 0
        and Subject.objects.count() == 0
    )


def test_row_with_wrong_number_of_fields_is_rejected() -> None:
    with pytest.raises(DomainError, match="line 2: expected 20 fields, found 3"):
        import_lims(text=lims_file("a,b,c"))


@pytest.mark.parametrize("text", ["", "   \n", HEADER + "\n"])
def test_empty_file_is_rejected(text: str) -> None:
    with pytest.raises(DomainError):
        import_lims(text=text)
    assert Library.objects.count() == 0


def test_library_id_with_path_characters_is_rejected() -> None:
    with pytest.raises(DomainError) as excinfo:
        import_lims(text=lims_file(lims_row(library_id="../L1")))
    assert excinfo.value.details["column"] == "library_id"


def test_import_query_count_does_not_grow_with_rows() -> None:
    def rows(count: int, offset: int) -> str:
        return lims_file(
            *[
                lims_row(
                    library_id=f"L{offset + i:07d}", internal_subject_id=f"SBJ{offset + i:05d}"
                )
                for i in range(count)
            ]
        )

    import_lims(text=rows(1, 100))  # project, run and owner exist from here on
    with CaptureQueriesContext(connection) as small:
        import_lims(text=rows(50, 1000))
    with CaptureQueriesContext(connection) as large:
        import_lims(text=rows(500, 5000))
    assert len(large.captured_queries) == len(small.captured_queries)


def test_management_command_prints_counts(tmp_path: Any) -> None:
    path = tmp_path / "lims.csv"
    path.write_text(lims_file(lims_row()))
    out = io.StringIO()
    call_command("import_lims", str(path), stdout=out)
    assert '"created": 1' in out.getvalue()


def test_management_command_reports_bad_row_as_command_error(tmp_path: Any) -> None:
    path = tmp_path / "lims.csv"
    path.write_text(lims_file(lims_row(load_datetime="yesterday")))
    with pytest.raises(CommandError, match="line 2, column 'load_datetime'"):
        call_command("import_lims", str(path))
