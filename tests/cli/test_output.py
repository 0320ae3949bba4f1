"""How jobs, sizes and times are shown."""

from __future__ import annotations

from data_sharing_tool.cli import describe_package, describe_push, push_progress
from data_sharing_tool.output import cell, human_bytes, short_time


def test_sizes_are_binary_units() -> None:
    assert [human_bytes(v) for v in (0, 1023, 1024, 5 * 1024**3, 3 * 1024**5)] == [
        "0 B",
        "1023 B",
        "1.0 KiB",
        "5.0 GiB",
        "3072.0 TiB",
    ]
    assert human_bytes(None) == "" and human_bytes(True) == ""


def test_times_are_shown_in_utc_to_the_second() -> None:
    assert short_time("2026-11-27T20:54:43.123+10:00") == "2026-11-27 10:54:43Z"
    assert short_time(None) == ""
    assert short_time("not a time") == "not a time"


def test_cells_stay_on_one_line() -> None:
    assert cell("S3 said:\nAccessDenied\tfor key") == "S3 said: AccessDenied for key"
    assert cell(True) == "yes" and cell(None) == ""


def test_package_progress_names_step_counts_and_restores() -> None:
    assert describe_package({"status": "PENDING", "step": "queued"}) == "PENDING (queued)"
    unarchiving = {"status": "UNARCHIVING", "step": "waiting-for-restores", "archivedFileCount": 4}
    assert describe_package(unarchiving) == (
        "UNARCHIVING (waiting-for-restores) | restoring 4 archived files"
    )
    assert "restored 1/4 archived files" in describe_package(
        {**unarchiving, "restoredFileCount": 1}
    )
    done = {
        "status": "SUCCEEDED",
        "step": "done",
        "libraryCount": 2,
        "fileCount": 8,
        "totalBytes": 2048,
    }
    assert describe_package(done) == "SUCCEEDED | 2 libraries | 8 files, 2.0 KiB"


def test_push_progress_counts_copied_and_skipped_files_as_done() -> None:
    job = {
        "status": "RUNNING",
        "step": "copying",
        "fileCount": 10,
        "succeededCount": 4,
        "skippedCount": 2,
        "failedCount": 1,
        "totalBytes": 10 * 1024**2,
        "transferredBytes": 4 * 1024**2,
    }
    assert push_progress(job) == (6, 10)
    assert describe_push(job) == (
        "RUNNING (copying) | files 6/10 | 2 already there | 1 failed | 4.0 MiB / 10.0 MiB"
    )
    assert push_progress({"status": "PENDING"}) == (None, None)
