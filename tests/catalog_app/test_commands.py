"""Management commands `import_workflows`, `import_fastq_list`, `sync_storage`: success prints
the counts; bad input is a CommandError naming what is wrong, and nothing is written."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from catalog_app.models import Fastq, SequencingRun, StoredObject, WorkflowRun
from datasharing import s3
from tests.catalog_app.test_import_lims import import_lims, lims_file, lims_row
from tests.catalog_app.test_import_workflows_and_fastqs import WF_HEADER, _fastq_list, wf_row

pytestmark = pytest.mark.django_db

RUN_ID = "241024_A00130_0336_BHW7MVDSXC"
NEW_RUN_ID = "241101_A01052_0221_AHVTC2DSXC"


@pytest.fixture
def libraries() -> None:
    import_lims(text=lims_file(lims_row(), lims_row(library_id="L2401545", phenotype="normal")))


def run_command(name: str, *args: str) -> dict[str, int]:
    out = io.StringIO()
    call_command(name, *args, stdout=out)
    return dict(json.loads(out.getvalue()))


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


# --- import_workflows ---------------------------------------------------------------------------


def test_import_workflows_command_prints_counts_and_is_idempotent(
    libraries: None, tmp_path: Path
) -> None:
    path = write(tmp_path, "workflows.csv", "\n".join([WF_HEADER, wf_row()]) + "\n")
    assert run_command("import_workflows", path) == {"created": 1, "updated": 0, "unchanged": 0}
    assert WorkflowRun.objects.get().libraries.get().library_id == "L2401544"
    assert run_command("import_workflows", path) == {"created": 0, "updated": 0, "unchanged": 1}


def test_import_workflows_command_bad_row_is_command_error_and_writes_nothing(
    libraries: None, tmp_path: Path
) -> None:
    path = write(
        tmp_path,
        "workflows.csv",
        "\n".join([WF_HEADER, wf_row(), wf_row(portal_run_id="2024-11-14")]) + "\n",
    )
    with pytest.raises(CommandError, match=r"line 3.*portal_run_id"):
        call_command("import_workflows", path)
    assert WorkflowRun.objects.count() == 0


def test_import_workflows_command_missing_file_is_command_error() -> None:
    with pytest.raises(CommandError, match="No such file"):
        call_command("import_workflows", "/nonexistent/workflows.csv")


# --- import_fastq_list --------------------------------------------------------------------------


def test_import_fastq_list_command_prints_counts_and_is_idempotent(
    libraries: None, tmp_path: Path, source_bucket_factory: Callable[[str], str]
) -> None:
    bucket = source_bucket_factory("primary")
    s3.put_object(bucket, "run1/L2401544_L001_R1.fastq.gz", b"r1-content")
    path = write(
        tmp_path,
        "fastq_list.csv",
        _fastq_list(("AAA.1", "L2401544", 1, "L2401544_L001_R1.fastq.gz", "")),
    )
    args = (path, "--instrument-run-id", RUN_ID, "--base-uri", f"s3://{bucket}/run1/")
    first = run_command("import_fastq_list", *args)
    assert (first["created"], first["missingInStorage"]) == (1, 0)
    fastq = Fastq.objects.select_related("read1").get()
    assert fastq.read1.bucket == bucket and fastq.read1.size == 10
    again = run_command("import_fastq_list", *args)
    assert (again["created"], again["updated"], again["unchanged"]) == (0, 0, 1)


def test_import_fastq_list_command_bad_input_is_command_error_and_writes_nothing(
    libraries: None, tmp_path: Path, source_bucket_factory: Callable[[str], str]
) -> None:
    bucket = source_bucket_factory("primary")
    bad_lane = write(
        tmp_path,
        "bad_lane.csv",
        _fastq_list(
            ("AAA.1", "L2401544", 1, "L2401544_L001_R1.fastq.gz", ""),
            ("BBB.1", "L2409999", 0, "L2409999_L000_R1.fastq.gz", ""),
        ),
    )
    with pytest.raises(CommandError, match=r"line 3.*Lane"):
        call_command(
            "import_fastq_list",
            bad_lane,
            "--instrument-run-id",
            NEW_RUN_ID,
            "--base-uri",
            f"s3://{bucket}/run1/",
        )
    good = write(tmp_path, "good.csv", _fastq_list(("AAA.1", "L2401544", 1, "a_R1.fastq.gz", "")))
    with pytest.raises(CommandError, match="not a valid instrument run id"):
        call_command(
            "import_fastq_list",
            good,
            "--instrument-run-id",
            "run 1",
            "--base-uri",
            f"s3://{bucket}/run1/",
        )
    assert Fastq.objects.count() == 0
    assert StoredObject.objects.count() == 0
    assert not SequencingRun.objects.filter(instrument_run_id=NEW_RUN_ID).exists()


def test_import_fastq_list_command_requires_run_and_base_uri(tmp_path: Path) -> None:
    path = write(tmp_path, "fastq_list.csv", _fastq_list(("A.1", "L1", 1, "a.fastq.gz", "")))
    with pytest.raises(CommandError, match="--instrument-run-id"):
        call_command("import_fastq_list", path, "--base-uri", "s3://bucket-a/x/")


# --- sync_storage -------------------------------------------------------------------------------


def test_sync_storage_command_catalogues_a_prefix_then_refreshes(
    source_bucket_factory: Callable[[str], str],
) -> None:
    bucket = source_bucket_factory("analysis")
    s3.put_object(bucket, "analysis/wf/run1/a.bam", b"aaaa")
    s3.put_object(bucket, "analysis/wf/run1/b.vcf.gz", b"bb")
    first = run_command("sync_storage", f"s3://{bucket}/analysis/wf/run1/")
    assert (first["created"], first["updated"], first["unchanged"]) == (2, 0, 0)
    s3.put_object(bucket, "analysis/wf/run1/a.bam", b"aaaaaaaa")
    # Without a URI: refresh what is catalogued.
    refreshed = run_command("sync_storage")
    assert (refreshed["created"], refreshed["updated"], refreshed["unchanged"]) == (0, 1, 1)
    assert StoredObject.objects.get(key="analysis/wf/run1/a.bam").size == 8


def test_sync_storage_command_bad_uri_is_command_error_and_writes_nothing() -> None:
    for uri in ("http://example.org/x/", "not-a-uri"):
        with pytest.raises(CommandError):
            call_command("sync_storage", uri)
    assert StoredObject.objects.count() == 0
