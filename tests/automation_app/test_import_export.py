"""`import_auto_jobs` / `export_auto_jobs`: the predecessor's JSON array, all or nothing, errors
naming the element and field, and import(export) changing nothing."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from automation_app.models import AutoShareRule

PREDECESSOR_JOBS = [
    {
        "jobName": "cup-fastq",
        "enabled": True,
        "projectIdList": ["CUP"],
        "dataTypeList": ["fastq"],
        "shareDestination": "s3://recipient-bucket/cup/",
    },
    {
        "jobName": "pancan-all",
        "enabled": False,
        "projectIdList": ["PanCan", "PanCan2"],
        "dataTypeList": ["fastq", "secondaryAnalysis"],
        "shareDestination": "s3://recipient-bucket/pancan",
        "secondaryAnalysisTypeList": ["umccrise"],
        "requireApproval": False,
        "slackChannel": "C0123456789",
        "notifyEmails": ["a@example.org"],
        "slackApprovers": ["U0123ABCD"],
    },
]


@pytest.fixture
def allowed(allow_destination: Callable[[str], None]) -> None:
    allow_destination("s3://recipient-bucket/")


def write(tmp_path: Path, jobs: Any, name: str = "jobs.json") -> str:
    path = tmp_path / name
    path.write_text(json.dumps(jobs) if not isinstance(jobs, str) else jobs)
    return str(path)


def test_import_creates_then_updates_by_job_name(
    allowed: None, tmp_path: Path, capsys: Any
) -> None:
    call_command("import_auto_jobs", write(tmp_path, PREDECESSOR_JOBS))
    assert json.loads(capsys.readouterr().out) == {"created": 2, "updated": 0, "unchanged": 0}
    cup = AutoShareRule.objects.get(job_name="cup-fastq")
    assert cup.project_ids == ["CUP"]
    assert cup.require_approval is True  # not given: the safe default
    pancan = AutoShareRule.objects.get(job_name="pancan-all")
    assert pancan.share_destination == "s3://recipient-bucket/pancan/"
    assert pancan.enabled is False

    changed = [{**PREDECESSOR_JOBS[0], "enabled": False}, PREDECESSOR_JOBS[1]]
    call_command("import_auto_jobs", write(tmp_path, changed))
    assert json.loads(capsys.readouterr().out) == {"created": 0, "updated": 1, "unchanged": 1}
    assert AutoShareRule.objects.get(job_name="cup-fastq").enabled is False


def test_export_then_import_changes_nothing(allowed: None, tmp_path: Path, capsys: Any) -> None:
    call_command("import_auto_jobs", write(tmp_path, PREDECESSOR_JOBS))
    capsys.readouterr()
    exported = tmp_path / "exported.json"
    call_command("export_auto_jobs", str(exported))
    jobs = json.loads(exported.read_text())
    assert [job["jobName"] for job in jobs] == ["cup-fastq", "pancan-all"]
    assert jobs[1] == {**PREDECESSOR_JOBS[1], "shareDestination": "s3://recipient-bucket/pancan/"}

    AutoShareRule.objects.all().delete()
    call_command("import_auto_jobs", str(exported))
    capsys.readouterr()
    call_command("export_auto_jobs")
    assert json.loads(capsys.readouterr().out) == jobs
    call_command("import_auto_jobs", str(exported))
    assert json.loads(capsys.readouterr().out) == {"created": 0, "updated": 0, "unchanged": 2}


@pytest.mark.parametrize(
    ("jobs", "fragment"),
    [
        (
            [PREDECESSOR_JOBS[0], {**PREDECESSOR_JOBS[1], "dataTypeList": ["vcf"]}],
            "[1].dataTypeList",
        ),
        ([{**PREDECESSOR_JOBS[0], "projectIdList": []}], "[0]: Required field(s) missing"),
        ([PREDECESSOR_JOBS[0], PREDECESSOR_JOBS[0]], "[1].jobName: 'cup-fastq' is also used"),
        ([PREDECESSOR_JOBS[0], "job"], "[1]: must be an object"),
        ([{**PREDECESSOR_JOBS[0], "awsAccount": "1"}], "[0]: Unknown field(s): awsAccount"),
        (
            [{**PREDECESSOR_JOBS[0], "shareDestination": "s3://not-allowed/x/"}],
            "[0].shareDestination: Destination s3://not-allowed/x/ is not in the allowed",
        ),
        ({"jobName": "x"}, "JSON array"),
    ],
)
def test_invalid_job_files_import_nothing(
    allowed: None, tmp_path: Path, jobs: Any, fragment: str
) -> None:
    with pytest.raises(CommandError) as error:
        call_command("import_auto_jobs", write(tmp_path, jobs))
    assert fragment in str(error.value)
    assert not AutoShareRule.objects.exists()


def test_not_json_is_a_command_error(tmp_path: Path, db: Any) -> None:
    with pytest.raises(CommandError, match="not valid JSON"):
        call_command("import_auto_jobs", write(tmp_path, "[{"))
