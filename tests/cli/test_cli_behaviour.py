"""The CLI as a user runs it (a subprocess), against a scripted HTTP server.

The scripted server plays situations the real one cannot be made to produce on demand: a job
that fails or is aborted while we wait, a 502 page from a proxy, a server that drops out. The
end-to-end behaviour against the real service is in test_cli_live.py.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.cli.conftest import CLI, ScriptedResponse, ScriptedServer, run_cli

TOKEN = "tok-SECRET-4f1b9c"  # a fake token; the tests check it is never printed
PACKAGE_ID = "pkg.01JD5V7Q3S8K2M4N6P8R0T2V4X"
PUSH_ID = "psh.01JD5V7Q3S8K2M4N6P8R0T2V4Y"
VERBS = (
    "generate-package",
    "list-packages",
    "get-package-status",
    "view-package-report",
    "push-package",
    "presign-package",
    "list-push-jobs",
    "get-push-job-status",
)


def run(*args: str, env: dict[str, str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    result = run_cli(*args, env=env, **kwargs)
    assert TOKEN not in result.stdout + result.stderr
    return result


@pytest.fixture
def env(cli_env: dict[str, str], scripted_server: ScriptedServer) -> dict[str, str]:
    return {**cli_env, "DATA_SHARING_URL": scripted_server.url, "DATA_SHARING_TOKEN": TOKEN}


@pytest.fixture
def lims_manifest(tmp_path: Path) -> Path:
    path = tmp_path / "lims.csv"
    path.write_text("library_id,sequencing_run_id\nL2400101,RUN_A\nL2400101_topup,RUN_B\n")
    return path


def package(status: str, **extra: Any) -> dict[str, Any]:
    return {"id": PACKAGE_ID, "packageName": "cup", "status": status, **extra}


def push(status: str, **extra: Any) -> dict[str, Any]:
    return {"id": PUSH_ID, "packageId": PACKAGE_ID, "status": status, **extra}


def test_help_lists_the_predecessor_verbs_each_with_examples(cli_env: dict[str, str]) -> None:
    result = run("--help", env=cli_env)
    assert result.returncode == 0
    for verb in VERBS:
        assert verb in result.stdout
        verb_help = run(verb, "--help", env=cli_env)
        assert verb_help.returncode == 0, verb_help.stderr
        assert "Example" in verb_help.stdout, verb
        assert "DATA_SHARING_TOKEN" in verb_help.stdout
    generate = run("generate-package", "-h", env=cli_env).stdout
    for flag in (
        "--package-name",
        "--lims-manifest-csv",
        "--workflow-manifest-csv",
        "--exclude-primary-data",
        "--defrost-archived-fastqs",
        "--no-use-workflow-file-filters",
        "--primary-data-path-prefix",
        "--secondary-analysis-path-prefix",
        "--wait",
    ):
        assert flag in generate


def test_the_cli_package_does_not_import_django() -> None:
    code = (
        "import sys, data_sharing_tool.cli, data_sharing_tool.client;"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('django', 'rest_framework', 'boto3'));"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_no_configuration_exits_with_the_config_code(cli_env: dict[str, str]) -> None:
    result = run("list-packages", env=cli_env)
    assert result.returncode == 4
    assert "No server configured: set DATA_SHARING_URL" in result.stderr


def test_an_unreachable_server_exits_with_the_network_code(cli_env: dict[str, str]) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**cli_env, "DATA_SHARING_URL": f"http://127.0.0.1:{port}", "DATA_SHARING_TOKEN": TOKEN}
    result = run("get-package-status", "--package-id", PACKAGE_ID, env=env)
    assert result.returncode == 5
    assert f"Cannot reach the server at http://127.0.0.1:{port}" in result.stderr


def test_ids_are_checked_before_any_request(
    env: dict[str, str], scripted_server: ScriptedServer
) -> None:
    for args in (
        ("get-package-status", "--package-id", "pkg.123:abort"),
        ("push-package", "--package-id", "../admin", "--share-location", "s3://b/p/"),
        ("get-push-job-status", "--push-job-id", PACKAGE_ID),
    ):
        result = run(*args, env=env)
        assert result.returncode == 3, result.stderr
        assert "is not a" in result.stderr
    result = run("push-package", "--package-id", PACKAGE_ID, "--share-location", "/tmp/x", env=env)
    assert result.returncode == 3
    assert "must be s3://bucket/prefix/ or icav2://project/path/" in result.stderr
    assert scripted_server.requests == []


def test_a_bare_ulid_is_accepted_as_a_package_id(
    env: dict[str, str], scripted_server: ScriptedServer
) -> None:
    scripted_server.script(
        "GET", f"/api/v1/package/{PACKAGE_ID}", ScriptedResponse(200, package("PENDING"))
    )
    result = run(
        "get-package-status", "--package-id", PACKAGE_ID.removeprefix("pkg.").lower(), env=env
    )
    assert result.returncode == 0, result.stderr
    assert scripted_server.requests[0]["headers"]["Authorization"] == f"Bearer {TOKEN}"


@pytest.mark.parametrize(
    ("status", "body", "content_type", "exit_code", "expected"),
    [
        (
            400,
            {"message": "Unknown library ids.", "details": {"libraryIdList": ["L9", "L8"]}},
            "application/json",
            9,
            "libraryIdList: L9, L8",
        ),
        (401, {"message": "Invalid token."}, "application/json", 6, "check DATA_SHARING_TOKEN"),
        (
            403,
            {"message": "Your role does not allow this action."},
            "application/json",
            6,
            "curators also create",
        ),
        (404, {"message": "No package with id 'x'."}, "application/json", 7, "No package with id"),
        (409, {"message": "Package is not SUCCEEDED."}, "application/json", 8, "not SUCCEEDED"),
        (413, {"message": "Request body too large."}, "application/json", 9, "too large"),
        (
            502,
            "<html><body><h1>502 Bad Gateway</h1></body></html>",
            "text/html",
            10,
            "HTTP 502 Bad Gateway: 502 Bad Gateway",
        ),
        (500, {"message": "Server error."}, "application/json", 10, "Server error."),
    ],
)
def test_http_errors_give_the_server_message_and_a_distinct_exit_code(
    env: dict[str, str],
    scripted_server: ScriptedServer,
    status: int,
    body: Any,
    content_type: str,
    exit_code: int,
    expected: str,
) -> None:
    scripted_server.script(
        "GET", f"/api/v1/package/{PACKAGE_ID}", ScriptedResponse(status, body, content_type)
    )
    result = run("get-package-status", "--package-id", PACKAGE_ID, env=env)
    assert result.returncode == exit_code, result.stderr
    assert result.stderr.startswith("error: ")
    assert expected in result.stderr
    assert result.stdout == ""


def test_a_server_that_is_not_the_api_is_named(
    env: dict[str, str], scripted_server: ScriptedServer
) -> None:
    scripted_server.script(
        "GET",
        f"/api/v1/package/{PACKAGE_ID}",
        ScriptedResponse(200, "<html>login</html>", "text/html"),
    )
    result = run("get-package-status", "--package-id", PACKAGE_ID, env=env)
    assert result.returncode == 1
    assert "is DATA_SHARING_URL the datasharing service?" in result.stderr


def test_generate_package_sends_the_validated_request_and_prints_the_id(
    env: dict[str, str], scripted_server: ScriptedServer, lims_manifest: Path
) -> None:
    scripted_server.script("POST", "/api/v1/package/", ScriptedResponse(201, package("PENDING")))
    result = run(
        "generate-package",
        "--package-name",
        "cup",
        "--lims-manifest-csv",
        str(lims_manifest),
        "--defrost-archived-fastqs",
        "--primary-data-path-prefix",
        "primary",
        env=env,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"{PACKAGE_ID}\n"
    assert f"get-package-status --package-id {PACKAGE_ID} --wait" in result.stderr
    [request] = scripted_server.requests
    assert request["body"] == {
        "packageName": "cup",
        "packageRequest": {
            "libraryIdList": ["L2400101"],
            "instrumentRunIdList": ["RUN_A", "RUN_B"],
            "dataTypeList": ["fastq"],
            "defrostArchivedFastqs": True,
            "useWorkflowFilters": True,
            "primaryDataPathPrefix": "primary",
            "secondaryAnalysisPathPrefix": "secondary-analysis",
        },
    }


def test_an_invalid_manifest_sends_nothing(
    env: dict[str, str], scripted_server: ScriptedServer, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("library_id,sequencing_run_date\nL1,2024-02-30\n")
    result = run(
        "generate-package", "--package-name", "cup", "--lims-manifest-csv", str(bad), env=env
    )
    assert result.returncode == 3
    assert f"{bad}, line 2 (row 1), column 'sequencing_run_date'" in result.stderr
    assert "nothing was sent" in result.stderr
    assert scripted_server.requests == []


def test_wait_shows_progress_and_exits_non_zero_with_the_error_when_packaging_fails(
    env: dict[str, str], scripted_server: ScriptedServer, lims_manifest: Path
) -> None:
    scripted_server.script("POST", "/api/v1/package/", ScriptedResponse(201, package("PENDING")))
    scripted_server.script(
        "GET",
        f"/api/v1/package/{PACKAGE_ID}",
        ScriptedResponse(200, package("PENDING")),
        ScriptedResponse(200, package("RUNNING", step="resolving")),
        ScriptedResponse(
            200, package("RUNNING", step="freezing", libraryCount=1, fileCount=4, totalBytes=4096)
        ),
        ScriptedResponse(200, package("FAILED", errorMessage="Unknown library ids: L2400101")),
    )
    result = run(
        "generate-package",
        "--package-name",
        "cup",
        "--lims-manifest-csv",
        str(lims_manifest),
        "--wait",
        env=env,
    )
    assert result.returncode == 11
    assert result.stdout == f"{PACKAGE_ID}\n"  # printed anyway, to look at the failed package
    lines = result.stderr.splitlines()
    assert f"package {PACKAGE_ID}: RUNNING (resolving)" in lines
    assert f"package {PACKAGE_ID}: RUNNING (freezing) | 1 libraries | 4 files, 4.0 KiB" in lines
    assert lines[-1] == f"error: Package {PACKAGE_ID} FAILED: Unknown library ids: L2400101"


def test_wait_exits_with_the_aborted_code_when_the_job_is_aborted(
    env: dict[str, str], scripted_server: ScriptedServer
) -> None:
    scripted_server.script(
        "GET",
        f"/api/v1/push/{PUSH_ID}",
        ScriptedResponse(200, push("RUNNING", fileCount=3, succeededCount=1)),
        ScriptedResponse(
            200, push("ABORTED", fileCount=3, succeededCount=1, errorMessage="Aborted by cora")
        ),
    )
    result = run("get-push-job-status", "--push-job-id", PUSH_ID, "--wait", env=env)
    assert result.returncode == 12
    assert f"push job {PUSH_ID}: RUNNING | files 1/3" in result.stderr
    assert f"error: Push job {PUSH_ID} was ABORTED: Aborted by cora" in result.stderr


def test_wait_rides_out_server_errors_and_succeeds(
    env: dict[str, str], scripted_server: ScriptedServer
) -> None:
    scripted_server.script(
        "POST", f"/api/v1/package/{PACKAGE_ID}:push", ScriptedResponse(201, push("PENDING"))
    )
    scripted_server.script(
        "GET",
        f"/api/v1/push/{PUSH_ID}",
        ScriptedResponse(200, push("RUNNING", fileCount=3, succeededCount=0)),
        ScriptedResponse(503, "<html>maintenance</html>", "text/html"),
        ScriptedResponse(200, push("RUNNING", fileCount=3, succeededCount=2)),
        ScriptedResponse(200, push("SUCCEEDED", fileCount=3, succeededCount=3)),
    )
    result = run(
        "push-package",
        "--package-id",
        PACKAGE_ID,
        "--share-location",
        "s3://bucket/in/",
        "--wait",
        env=env,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"{PUSH_ID}\n"
    assert "lost contact with the server (HTTP 503" in result.stderr
    assert f"push job {PUSH_ID}: RUNNING | files 2/3" in result.stderr
    assert f"Push job {PUSH_ID} SUCCEEDED: SUCCEEDED | files 3/3" in result.stderr
    assert scripted_server.requests[0]["body"] == {"shareDestination": "s3://bucket/in/"}


def test_ctrl_c_while_waiting_leaves_the_job_running_and_says_how_to_follow_it(
    env: dict[str, str], scripted_server: ScriptedServer
) -> None:
    scripted_server.script(
        "GET",
        f"/api/v1/package/{PACKAGE_ID}",
        ScriptedResponse(200, package("RUNNING", step="resolving")),
    )
    process = subprocess.Popen(
        [str(CLI), "get-package-status", "--package-id", PACKAGE_ID, "--wait"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    first_line = process.stderr.readline()  # the first progress line: it is waiting
    assert "RUNNING (resolving)" in first_line
    os.kill(process.pid, signal.SIGINT)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 130
    assert "keeps running on the server" in stderr
    assert f"data-sharing-tool get-package-status --package-id {PACKAGE_ID} --wait" in stderr
    assert {(r["method"], r["path"]) for r in scripted_server.requests} == {
        ("GET", f"/api/v1/package/{PACKAGE_ID}")
    }


def test_list_packages_follows_pages_applies_filters_and_stops_at_the_maximum(
    env: dict[str, str], scripted_server: ScriptedServer
) -> None:
    def page(number: int, ids: range) -> ScriptedResponse:
        return ScriptedResponse(
            200,
            {
                "links": {"previous": None, "next": "x"},
                "pagination": {"page": number, "rowsPerPage": 2, "count": 5},
                "results": [
                    {
                        "id": f"pkg.01JD5V7Q3S8K2M4N6P8R0T2V{i:02d}",
                        "packageName": "cup",
                        "status": "SUCCEEDED",
                        "requestTime": "2026-11-27T10:54:43.123456Z",
                        "fileCount": i,
                        "totalBytes": 2048 * i,
                    }
                    for i in ids
                ],
            },
        )

    scripted_server.script("GET", "/api/v1/package/", page(1, range(2)), page(2, range(2, 4)))
    result = run(
        "list-packages",
        "--package-name",
        "cup",
        "--start-date",
        "2026-11-01",
        "--status",
        "SUCCEEDED",
        "--max-packages",
        "3",
        env={**env, "TZ": "UTC"},
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == [
        "ID",
        "NAME",
        "STATUS",
        "REQUESTED",
        "COMPLETED",
        "FILES",
        "SIZE",
        "EXPIRED",
    ]
    assert len(lines) == 4
    assert "2026-11-27 10:54:43Z" in lines[1]
    assert "2.0 KiB" in lines[2]
    queries = [r["query"] for r in scripted_server.requests]
    assert len(queries) == 2
    assert "page=1" in queries[0] and "rowsPerPage=3" in queries[0]
    assert "packageName=cup" in queries[0] and "status=SUCCEEDED" in queries[0]
    assert "requestAfter=2026-11-01T00%3A00%3A00Z" in queries[0]
    assert "page=2" in queries[1]

    scripted_server.script("GET", "/api/v1/package/", page(1, range(2)), page(2, range(2, 4)))
    as_json = run("list-packages", "--max-packages", "3", "--json", env=env)
    assert [p["fileCount"] for p in json.loads(as_json.stdout)] == [0, 1, 2]


def test_report_and_presign_urls_open_in_browser_when_set(
    env: dict[str, str], scripted_server: ScriptedServer, tmp_path: Path
) -> None:
    opened = tmp_path / "opened.txt"
    browser = tmp_path / "browser.sh"
    browser.write_text(f'#!/bin/sh\necho "$1" >> {opened}\n')
    browser.chmod(0o755)
    report_url = "http://s3.example/report.html?X-Amz-Signature=abc"
    script_url = "http://s3.example/download-data.cup.sh?X-Amz-Signature=def"
    scripted_server.script(
        "GET", f"/api/v1/package/{PACKAGE_ID}:getSummaryReport", ScriptedResponse(200, report_url)
    )
    scripted_server.script(
        "POST",
        f"/api/v1/package/{PACKAGE_ID}:presign",
        ScriptedResponse(
            201,
            {
                "id": "prs.01JD5V7Q3S8K2M4N6P8R0T2V4Z",
                "scriptName": "download-data.cup.sh",
                "scriptUrl": script_url,
                "scriptUrlExpiresAt": "2026-11-28T10:00:00Z",
                "fileUrlsExpireAt": "2026-12-04T10:00:00Z",
                "fileCount": 12,
                "totalBytes": 5 * 1024**3,
                "warnings": ["2 files are larger than 5 GiB"],
            },
        ),
    )
    result = run(
        "view-package-report", "--package-id", PACKAGE_ID, env={**env, "BROWSER": str(browser)}
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"{report_url}\n"
    result = run(
        "presign-package",
        "--package-id",
        PACKAGE_ID,
        "--file-url-expiry-days",
        "2",
        env={**env, "BROWSER": str(browser)},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"{script_url}\n"
    assert "download-data.cup.sh: 12 files, 5.0 GiB." in result.stderr
    assert (
        "This URL expires at 2026-11-28 10:00:00Z; the file URLs in the script at "
        "2026-12-04 10:00:00Z." in result.stderr
    )
    assert "warning: 2 files are larger than 5 GiB" in result.stderr
    assert opened.read_text().splitlines() == [report_url, script_url]
    presign_request = next(r for r in scripted_server.requests if r["path"].endswith(":presign"))
    assert presign_request["body"] == {"fileUrlExpirySeconds": 2 * 86400}
    # Without BROWSER nothing is opened.
    run("view-package-report", "--package-id", PACKAGE_ID, env=env)
    assert len(opened.read_text().splitlines()) == 2


def test_dry_run_asks_the_server_and_creates_nothing(
    env: dict[str, str], scripted_server: ScriptedServer, lims_manifest: Path
) -> None:
    scripted_server.script(
        "POST",
        "/api/v1/package:dryRun",
        ScriptedResponse(
            200,
            {
                "packageName": "cup",
                "libraryCount": 1,
                "fastqCount": 3,
                "workflowRunCount": 0,
                "fileCount": 6,
                "totalBytes": 3 * 1024 * 1024,
                "archivedFileCount": 2,
                "archivedBytes": 1024,
                "unrestoredFileCount": 2,
                "byDataType": {
                    "fastq": {"fileCount": 6, "totalBytes": 3145728, "archivedFileCount": 2}
                },
                "byWorkflow": {},
            },
        ),
    )
    args = ("generate-package", "--package-name", "cup", "--lims-manifest-csv", str(lims_manifest))
    result = run(*args, "--dry-run", env=env)
    assert result.returncode == 0, result.stderr
    assert "Files:" in result.stdout and "3.0 MiB" in result.stdout
    assert "Archived files:    2" in result.stdout
    assert "fastq" in result.stdout
    assert "Nothing was created." in result.stderr
    assert [(r["method"], r["path"]) for r in scripted_server.requests] == [
        ("POST", "/api/v1/package:dryRun")
    ]
    assert scripted_server.requests[0]["body"]["packageRequest"]["libraryIdList"] == ["L2400101"]
    both = run(*args, "--dry-run", "--wait", env=env)
    assert both.returncode == 2
    assert "--dry-run creates nothing to wait for" in both.stderr


def test_view_package_report_can_save_the_report_through_the_api(
    env: dict[str, str], scripted_server: ScriptedServer, tmp_path: Path
) -> None:
    path = f"/api/v1/package/{PACKAGE_ID}/report"
    scripted_server.script("GET", path, ScriptedResponse(200, "%PDF-1.7 report", "application/pdf"))
    target = tmp_path / "report.pdf"
    result = run(
        "view-package-report", "--package-id", PACKAGE_ID, "--output", str(target), env=env
    )
    assert result.returncode == 0, result.stderr
    assert target.read_bytes() == b"%PDF-1.7 report"
    assert result.stdout == f"{target}\n"
    assert scripted_server.requests[-1]["query"] == "format=pdf"

    scripted_server.script(
        "GET", path, ScriptedResponse(409, {"message": f"Package {PACKAGE_ID} has expired."})
    )
    other = tmp_path / "report.html"
    result = run("view-package-report", "--package-id", PACKAGE_ID, "--output", str(other), env=env)
    assert result.returncode == 8
    assert "has expired" in result.stderr
    assert scripted_server.requests[-1]["query"] == "format=html"
    assert sorted(
        p.name for p in tmp_path.iterdir() if p.name.startswith((".report", "report"))
    ) == ["report.pdf"]
