"""FASTQ rows: file names with control or formatting characters are refused at import with line
and column; a fastq list file is authoritative for its run (a corrected import replaces the rows
of the earlier one); rows can be removed through the API and the admin."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.contrib.auth.models import User
from django.test import Client
from rest_framework.test import APIClient

from catalog_app.models import Fastq, SequencingRun, StoredObject
from datasharing import s3
from datasharing.errors import DomainError
from packages_app.models import PackageFile
from tests.catalog_app.test_catalog_api import upload
from tests.catalog_app.test_import_lims import import_lims, lims_file, lims_row
from tests.catalog_app.test_import_workflows_and_fastqs import _fastq_list, import_fastq_list
from tests.factories import make_frozen_package

pytestmark = pytest.mark.django_db

RUN_ID = "241024_A00130_0336_BHW7MVDSXC"
TUMOR, NORMAL = "L2401544", "L2401545"


@pytest.fixture
def libraries() -> None:
    import_lims(text=lims_file(lims_row(), lims_row(library_id=NORMAL, phenotype="normal")))


@pytest.fixture
def primary(source_bucket_factory: Callable[[str], str]) -> str:
    """A source bucket holding run1/ (lanes 1 and 2 of both libraries, R1 and R2)."""
    bucket = source_bucket_factory("primary")
    for library in (TUMOR, NORMAL):
        for lane in (1, 2):
            for read in (1, 2):
                s3.put_object(bucket, f"run1/{fastq_name(library, lane, read)}", b"@r\nACGT\n")
    return bucket


def fastq_name(library: str, lane: int, read: int) -> str:
    return f"{library}_L00{lane}_R{read}.fastq.gz"


def fastq_rows(*lanes_of: tuple[str, int]) -> str:
    return _fastq_list(
        *(
            (
                f"RG.{library}.{lane}",
                library,
                lane,
                fastq_name(library, lane, 1),
                fastq_name(library, lane, 2),
            )
            for library, lane in lanes_of
        )
    )


EVERY_ROW = ((TUMOR, 1), (TUMOR, 2), (NORMAL, 1), (NORMAL, 2))


def run_fastqs() -> set[tuple[str, int, str]]:
    return {
        (f.library.library_id, f.lane, f.read1.key)
        for f in Fastq.objects.filter(run__instrument_run_id=RUN_ID).select_related(
            "library", "read1"
        )
    }


# --- Unsafe file names --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("odd", "code"),
    [
        ("\t", "U+0009"),
        ("\x7f", "U+007F"),
        ("\x85", "U+0085"),  # NEL, a C1 control
        ("\u200b", "U+200B"),  # zero-width space (Cf)
        ("\u202e", "U+202E"),  # right-to-left override (Cf)
        ("\u2028", "U+2028"),  # line separator
    ],
)
def test_file_names_with_control_or_formatting_characters_are_refused_with_line_and_column(
    libraries: None, primary: str, odd: str, code: str
) -> None:
    text = _fastq_list(
        ("A.1", TUMOR, 1, fastq_name(TUMOR, 1, 1), ""),
        ("B.1", NORMAL, 1, fastq_name(NORMAL, 1, 1), f"L2401545{odd}_L001_R2.fastq.gz"),
    )
    with pytest.raises(DomainError) as refused:
        import_fastq_list(text=text, instrument_run_id=RUN_ID, base_uri=f"s3://{primary}/run1/")
    assert (refused.value.details["line"], refused.value.details["column"]) == (3, "Read2File")
    assert code in refused.value.message
    assert Fastq.objects.count() == StoredObject.objects.count() == 0


def test_the_import_api_answers_400_with_line_and_column_for_a_control_character(
    curator_client: APIClient, libraries: None, primary: str
) -> None:
    text = _fastq_list(("A.1", TUMOR, 1, "a\tb_R1.fastq.gz", ""))
    response = upload(
        curator_client,
        "fastq-list",
        text,
        instrumentRunId=RUN_ID,
        baseUri=f"s3://{primary}/run1/",
    )
    assert response.status_code == 400
    assert (response.json()["details"]["line"], response.json()["details"]["column"]) == (
        2,
        "Read1File",
    )


# --- A fastq list is authoritative for its run --------------------------------------------------


def test_a_corrected_import_replaces_the_rows_of_a_wrong_base_uri(
    libraries: None, primary: str
) -> None:
    """Issue 16: an import with a wrong baseUri left phantom rows a corrected one did not
    remove."""
    wrong = import_fastq_list(
        text=fastq_rows(*EVERY_ROW), instrument_run_id=RUN_ID, base_uri=f"s3://{primary}/run01/"
    )
    assert (wrong.created, wrong.extra["missingInStorage"]) == (4, 8)
    corrected = import_fastq_list(
        text=fastq_rows(*EVERY_ROW), instrument_run_id=RUN_ID, base_uri=f"s3://{primary}/run1/"
    )
    assert (corrected.created, corrected.extra["removed"]) == (4, 4)
    assert {key for _, _, key in run_fastqs()} == {
        f"run1/{fastq_name(lib, lane, 1)}" for lib, lane in EVERY_ROW
    }
    # The phantom objects (never seen in storage) went with their rows.
    assert not StoredObject.objects.filter(key__startswith="run01/").exists()
    again = import_fastq_list(
        text=fastq_rows(*EVERY_ROW), instrument_run_id=RUN_ID, base_uri=f"s3://{primary}/run1/"
    )
    assert (again.unchanged, again.extra["removed"]) == (4, 0)


def test_rows_no_longer_listed_are_removed_and_frozen_packages_keep_their_files(
    libraries: None, primary: str
) -> None:
    import_fastq_list(
        text=fastq_rows(*EVERY_ROW), instrument_run_id=RUN_ID, base_uri=f"s3://{primary}/run1/"
    )
    dropped = Fastq.objects.get(library__library_id=NORMAL, lane=2)
    key = dropped.read1.key
    package = make_frozen_package(files=[(primary, key, f"fastq/{fastq_name(NORMAL, 2, 1)}")])
    PackageFile.objects.filter(package=package).update(fastq=dropped)

    result = import_fastq_list(
        text=fastq_rows(*EVERY_ROW[:3]), instrument_run_id=RUN_ID, base_uri=f"s3://{primary}/run1/"
    )
    assert (result.unchanged, result.extra["removed"]) == (3, 1)
    assert (NORMAL, 2, key) not in run_fastqs() and len(run_fastqs()) == 3
    frozen = PackageFile.objects.get(package=package)
    assert (frozen.fastq_id, frozen.source_bucket, frozen.source_key) == (None, primary, key)
    # Objects seen in storage stay catalogued.
    assert StoredObject.objects.filter(bucket=primary, key=key, missing=False).exists()


def test_another_runs_rows_are_not_touched(libraries: None, primary: str) -> None:
    other_run = "241101_A01052_0221_AHVTC2DSXC"
    import_fastq_list(
        text=fastq_rows((NORMAL, 2)), instrument_run_id=other_run, base_uri=f"s3://{primary}/run1/"
    )
    import_fastq_list(
        text=fastq_rows((TUMOR, 1)), instrument_run_id=RUN_ID, base_uri=f"s3://{primary}/run1/"
    )
    assert Fastq.objects.filter(run__instrument_run_id=other_run).count() == 1


# --- Removal through the API --------------------------------------------------------------------


@pytest.fixture
def imported(libraries: None, primary: str) -> None:
    import_fastq_list(
        text=fastq_rows(*EVERY_ROW), instrument_run_id=RUN_ID, base_uri=f"s3://{primary}/run1/"
    )


URL = f"/api/v1/catalog/runs/{RUN_ID}/fastqs"


def test_a_curator_removes_rows_by_library_and_lane_then_the_whole_run(
    curator_client: APIClient, imported: None
) -> None:
    one = curator_client.delete(f"{URL}?libraryId={NORMAL}&lane=2")
    assert one.status_code == 200, one.json()
    assert one.json() == {"instrumentRunId": RUN_ID, "removed": 1}
    assert len(run_fastqs()) == 3
    assert curator_client.delete(f"{URL}?lane=1,2&libraryId={TUMOR}").json()["removed"] == 2
    rest = curator_client.delete(URL)
    assert rest.json()["removed"] == 1
    assert run_fastqs() == set()
    assert SequencingRun.objects.filter(instrument_run_id=RUN_ID).exists()


def test_viewers_strangers_and_anonymous_cannot_remove_rows(
    viewer_client: APIClient, stranger_client: APIClient, anon_client: APIClient, imported: None
) -> None:
    assert viewer_client.delete(URL).status_code == 403
    assert stranger_client.delete(URL).status_code == 403
    assert anon_client.delete(URL).status_code == 401
    assert len(run_fastqs()) == 4


@pytest.mark.parametrize(
    ("url", "status"),
    [
        ("/api/v1/catalog/runs/NO_SUCH_RUN/fastqs", 404),
        (f"{URL}?lane=99", 400),
        (f"{URL}?lane=one", 400),
    ],
)
def test_unknown_runs_and_bad_lanes_remove_nothing(
    curator_client: APIClient, imported: None, url: str, status: int
) -> None:
    response = curator_client.delete(url)
    assert response.status_code == status
    assert response.json()["message"]
    assert len(run_fastqs()) == 4


# --- Removal through the admin ------------------------------------------------------------------


def test_the_admin_deletes_selected_rows_after_a_confirmation_page(imported: None) -> None:
    browser = Client()
    browser.force_login(User.objects.create_superuser("root-admin", "root@example.org", None))
    url = "/admin/catalog_app/fastq/"
    chosen = list(Fastq.objects.filter(library__library_id=NORMAL).values_list("pk", flat=True))
    action = {"action": "delete_selected", "_selected_action": chosen}
    confirmation = browser.post(url, action)
    assert confirmation.status_code == 200
    assert "Are you sure" in confirmation.content.decode()
    assert len(run_fastqs()) == 4
    done = browser.post(url, {**action, "post": "yes"})
    assert done.status_code == 302
    assert {library for library, _, _ in run_fastqs()} == {TUMOR}
