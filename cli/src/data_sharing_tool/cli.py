"""`data-sharing-tool`: the predecessor's verbs and flags, speaking the datasharing REST API.

Results go to stdout (an id, a URL, a table, or JSON with `--json`); progress, warnings and
errors go to stderr. Exit codes are in `errors.ExitCode` and docs/cli.md.
"""

from __future__ import annotations

import datetime as dt
import os
import shlex
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import click
from data_sharing_formats.manifests import (
    LimsManifest,
    ManifestError,
    WorkflowManifest,
    read_lims_manifest,
    read_workflow_manifest,
)
from data_sharing_formats.package_request import (
    PRIMARY_DATA_PATH_PREFIXES,
    SECONDARY_ANALYSIS_PATH_PREFIXES,
    RequestError,
    build_package_request,
    validate_package_name,
)

from data_sharing_tool import __version__, output
from data_sharing_tool.client import Client, normalize_job_id
from data_sharing_tool.config import load_config
from data_sharing_tool.errors import CliError, ExitCode
from data_sharing_tool.waiting import raise_for_final_status, wait_for_job

PROG = "data-sharing-tool"
CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}

ENVIRONMENT_HELP = """
\b
Environment:
  DATA_SHARING_URL     the service, e.g. http://127.0.0.1:8000
  DATA_SHARING_TOKEN   your API token (never printed)
  DATA_SHARING_CONFIG  config file (default ~/.config/data-sharing-tool/config.toml,
                       keys `url` and `token`; environment variables win)
  DATA_SHARING_POLL_SECONDS  polling interval of --wait (default 5)
"""


@contextmanager
def api_client() -> Iterator[Client]:
    config = load_config()
    for message in config.warnings:
        output.warn(message)
    with Client(config) as client:
        yield client


F = TypeVar("F", bound=Callable[..., Any])


def json_option(help_text: str = "Print the API's JSON instead of a table.") -> Callable[[F], F]:
    return click.option("--json", "as_json", is_flag=True, help=help_text)


def _first(job: dict[str, Any], *keys: str) -> Any:
    """The first of several field names present: tolerates servers that add or rename counts."""
    for key in keys:
        if job.get(key) is not None:
            return job[key]
    return None


def describe_package(package: dict[str, Any]) -> str:
    parts = [str(package.get("status", "?"))]
    step = package.get("step")
    if step and package.get("status") not in ("SUCCEEDED", "FAILED", "ABORTED"):
        parts[0] += f" ({step})"
    archived = _first(package, "archivedFileCount")
    restored = _first(package, "restoredFileCount")
    if package.get("status") == "UNARCHIVING" and archived:
        if isinstance(restored, int):
            parts.append(f"restored {restored}/{archived} archived files")
        else:
            parts.append(f"restoring {archived} archived files")
    libraries = _first(package, "libraryCount")
    if libraries:
        parts.append(f"{libraries} libraries")
    files = _first(package, "fileCount")
    if files:
        size = output.human_bytes(_first(package, "totalBytes"))
        parts.append(f"{files} files" + (f", {size}" if size else ""))
    return " | ".join(parts)


def push_progress(job: dict[str, Any]) -> tuple[int | None, int | None]:
    """(files done, files in the job): copied and verified, or skipped as already identical."""
    total = job.get("fileCount")
    if not isinstance(total, int):
        return None, None
    counts = [job.get("succeededCount"), job.get("skippedCount")]
    done = sum(c for c in counts if isinstance(c, int))
    return done, total


def describe_push(job: dict[str, Any]) -> str:
    status = str(job.get("status", "?"))
    if job.get("step") and status not in ("SUCCEEDED", "FAILED", "ABORTED"):
        status += f" ({job['step']})"
    parts = [status]
    done, total = push_progress(job)
    if total is not None:
        parts.append(f"files {done}/{total}")
    if job.get("skippedCount"):
        parts.append(f"{job['skippedCount']} already there")
    if job.get("failedCount"):
        parts.append(f"{job['failedCount']} failed")
    total_bytes = job.get("totalBytes")
    if isinstance(total_bytes, int) and total_bytes:
        moved = output.human_bytes(job.get("transferredBytes") or 0)
        parts.append(f"{moved} / {output.human_bytes(total_bytes)}")
    return " | ".join(parts)


def open_in_browser(url: str) -> None:
    """Run `$BROWSER URL` when BROWSER is set (a `:`-separated list is tried in order)."""
    browser = os.environ.get("BROWSER", "").strip()
    if not browser:
        return
    for command in browser.split(os.pathsep):
        args = shlex.split(command)
        if not args:
            continue
        if any("%s" in arg for arg in args):
            args = [arg.replace("%s", url) for arg in args]
        else:
            args.append(url)
        try:
            returncode = subprocess.run(args, check=False, stdout=sys.stderr).returncode
        except OSError as exc:
            output.warn(f"could not run $BROWSER command {args[0]!r}: {exc.strerror or exc}")
            continue
        if returncode == 0:
            return
        output.warn(f"$BROWSER command {args[0]!r} exited with status {returncode}")


def _url_from(response: Any, *keys: str) -> str:
    """The predecessor's endpoints answered a bare JSON string; ours may answer an object."""
    if isinstance(response, str):
        return response
    if isinstance(response, dict):
        value = _first(response, *keys)
        if isinstance(value, str):
            return value
    raise CliError("The server's answer has no URL in it.", exit_code=ExitCode.ERROR)


def parse_day(value: str, *, end: bool) -> str:
    """YYYY-MM-DD (local midnight; an end date includes the whole day) or ISO 8601."""
    try:
        if len(value) == 10:
            day = dt.date.fromisoformat(value)
            moment = dt.datetime.combine(day + dt.timedelta(days=1 if end else 0), dt.time())
        else:
            moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not a date (YYYY-MM-DD) or ISO 8601 date-time"
        ) from None
    if moment.tzinfo is None:
        moment = moment.astimezone()  # the user's local time zone, as the predecessor did
    return moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def follow_package(package_id: str) -> str:
    return f"{PROG} get-package-status --package-id {package_id} --wait"


def follow_push(push_job_id: str) -> str:
    return f"{PROG} get-push-job-status --push-job-id {push_job_id} --wait"


PACKAGE_COLUMNS: list[output.Column] = [
    ("ID", lambda p: p.get("id")),
    ("NAME", lambda p: p.get("packageName")),
    ("STATUS", lambda p: p.get("status")),
    ("REQUESTED", lambda p: output.short_time(p.get("requestTime"))),
    ("COMPLETED", lambda p: output.short_time(p.get("completionTime"))),
    ("FILES", lambda p: p.get("fileCount")),
    ("SIZE", lambda p: output.human_bytes(p.get("totalBytes"))),
    ("EXPIRED", lambda p: p.get("hasExpired")),
]

PUSH_COLUMNS: list[output.Column] = [
    ("ID", lambda j: j.get("id")),
    ("PACKAGE", lambda j: j.get("packageId")),
    ("DESTINATION", lambda j: j.get("shareDestination")),
    ("STATUS", lambda j: j.get("status")),
    ("REQUESTED", lambda j: output.short_time(j.get("requestTime"))),
    ("COMPLETED", lambda j: output.short_time(j.get("completionTime"))),
    (
        "FILES",
        lambda j: "{}/{}".format(*push_progress(j)) if j.get("fileCount") is not None else "",
    ),
    ("FAILED", lambda j: j.get("failedCount") or ""),
]


def print_package(package: dict[str, Any]) -> None:
    request = package.get("packageRequest") or {}
    output.print_fields(
        [
            ("Package", package.get("id")),
            ("Name", package.get("packageName")),
            ("Status", package.get("status")),
            ("Step", package.get("step") if package.get("status") not in ("SUCCEEDED",) else None),
            ("Error", package.get("errorMessage")),
            ("Requested", output.short_time(package.get("requestTime"))),
            ("Completed", output.short_time(package.get("completionTime"))),
            ("Expires", output.short_time(package.get("expiresAt"))),
            ("Expired", package.get("hasExpired")),
            ("Data types", ", ".join(request.get("dataTypeList") or [])),
            ("Libraries", package.get("libraryCount")),
            ("FASTQs", package.get("fastqCount")),
            ("Workflow runs", package.get("workflowRunCount")),
            ("Files", package.get("fileCount")),
            ("Total size", output.human_bytes(package.get("totalBytes"))),
            ("Archived files", package.get("archivedFileCount")),
        ]
    )


def print_dry_run(answer: dict[str, Any]) -> None:
    output.print_fields(
        [
            ("Package (dry run)", answer.get("packageName")),
            ("Libraries", answer.get("libraryCount")),
            ("FASTQs", answer.get("fastqCount")),
            ("Workflow runs", answer.get("workflowRunCount")),
            ("Files", answer.get("fileCount")),
            ("Total size", output.human_bytes(answer.get("totalBytes"))),
            ("Archived files", answer.get("archivedFileCount")),
            ("Archived size", output.human_bytes(answer.get("archivedBytes"))),
            ("Not yet restored", answer.get("unrestoredFileCount")),
        ]
    )
    rows: list[dict[str, Any]] = []
    for data_type, counts in (answer.get("byDataType") or {}).items():
        rows.append({"what": data_type, **counts})
    for workflow_name, counts in (answer.get("byWorkflow") or {}).items():
        rows.append({"what": f"  {workflow_name}", **counts})
    if rows:
        click.echo("")
        output.print_table(
            rows,
            [
                ("DATA", lambda r: r["what"]),
                ("RUNS", lambda r: r.get("runCount")),
                ("FILES", lambda r: r.get("fileCount")),
                ("SIZE", lambda r: output.human_bytes(r.get("totalBytes"))),
                ("ARCHIVED", lambda r: r.get("archivedFileCount")),
            ],
        )
    click.echo("Nothing was created.", err=True)


def print_push(job: dict[str, Any]) -> None:
    done, total = push_progress(job)
    output.print_fields(
        [
            ("Push job", job.get("id")),
            ("Package", job.get("packageId")),
            ("Package name", job.get("packageName")),
            ("Destination", job.get("shareDestination")),
            ("Status", job.get("status")),
            ("Step", job.get("step") if job.get("status") != "SUCCEEDED" else None),
            ("Error", job.get("errorMessage")),
            ("Requested by", job.get("requestedBy")),
            ("Requested", output.short_time(job.get("requestTime"))),
            ("Started", output.short_time(job.get("startTime"))),
            ("Completed", output.short_time(job.get("completionTime"))),
            ("Files done", f"{done}/{total}" if total is not None else None),
            ("Already there", job.get("skippedCount")),
            ("Failed files", job.get("failedCount")),
            ("Pending files", job.get("pendingCount")),
            (
                "Bytes copied",
                f"{output.human_bytes(job.get('transferredBytes') or 0)} of "
                f"{output.human_bytes(job.get('totalBytes'))}"
                if isinstance(job.get("totalBytes"), int)
                else None,
            ),
        ]
    )


# --- commands ------------------------------------------------------------------------------------


@click.group(
    context_settings=CONTEXT_SETTINGS,
    epilog=ENVIRONMENT_HELP
    + """
\b
Examples:
  data-sharing-tool generate-package --package-name cup-2024 \\
      --lims-manifest-csv lims.csv --workflow-manifest-csv workflows.csv --wait
  data-sharing-tool push-package --package-id pkg.01J... \\
      --share-location s3://collaborator-bucket/incoming/ --wait
  data-sharing-tool presign-package --package-id pkg.01J...

\b
Exit codes:
  0 ok (--wait: SUCCEEDED)   2 usage            3 invalid input, nothing sent
  4 configuration            5 network          6 401/403    7 404    8 409
  9 other 4xx                10 server error    11 job FAILED   12 job ABORTED
  130 interrupted (a job being waited for keeps running)
""",
)
@click.version_option(__version__, "--version", prog_name=PROG)
def cli() -> None:
    """Package sequencing data and share it, through the datasharing service.

    Every command talks to the service's REST API; nothing here needs AWS credentials.
    """


@cli.command("generate-package", epilog=ENVIRONMENT_HELP)
@click.option(
    "--package-name", required=True, help="Name of the package (letters, digits, _ . + -)."
)
@click.option(
    "--lims-manifest-csv",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="LIMS manifest: a `library_id` column (mart export; `sequencing_run_id` restricts runs).",
)
@click.option(
    "--workflow-manifest-csv",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Workflow manifest: `portal_run_id` and `library_id` columns; adds secondary analyses.",
)
@click.option(
    "--exclude-primary-data",
    is_flag=True,
    help="Leave FASTQs out (needs --workflow-manifest-csv).",
)
@click.option(
    "--defrost-archived-fastqs",
    is_flag=True,
    help="Restore FASTQs in Glacier / Deep Archive before packaging (can take hours).",
)
@click.option(
    "--no-use-workflow-file-filters",
    is_flag=True,
    help="Share every file of each analysis (except logs/ and cache/), not just deliverables.",
)
@click.option(
    "--primary-data-path-prefix",
    type=click.Choice(PRIMARY_DATA_PATH_PREFIXES),
    default="fastq",
    show_default=True,
    help="Folder of the FASTQs in the package ('/' for none).",
)
@click.option(
    "--secondary-analysis-path-prefix",
    type=click.Choice(SECONDARY_ANALYSIS_PATH_PREFIXES),
    default="secondary-analysis",
    show_default=True,
    help="Folder of the analyses in the package ('/' for none).",
)
@click.option("--wait", is_flag=True, help="Wait until the package is ready, showing progress.")
@click.option(
    "--dry-run",
    is_flag=True,
    help="Ask the server what the package would hold (counts, sizes, archived files); "
    "create nothing.",
)
@json_option("Print the package's JSON instead of its id.")
def generate_package(
    package_name: str,
    lims_manifest_csv: Path,
    workflow_manifest_csv: Path | None,
    exclude_primary_data: bool,
    defrost_archived_fastqs: bool,
    no_use_workflow_file_filters: bool,
    primary_data_path_prefix: str,
    secondary_analysis_path_prefix: str,
    wait: bool,
    dry_run: bool,
    as_json: bool,
) -> None:
    """Generate a package from a LIMS manifest and, optionally, a workflow manifest.

    Both manifests are checked here first (columns, identifiers, dates and numbers; every library
    of the workflow manifest must be in the LIMS manifest; `_topup` / `_rerun` suffixes count as
    their library). Any problem is reported with file, line and column, and nothing is sent.

    Prints the new package id (`pkg.<id>`) on stdout. With --dry-run, prints what the package
    would hold instead, and creates nothing.

    \b
    Examples:
      data-sharing-tool generate-package --package-name cup-fastqs \\
          --lims-manifest-csv lims.csv --wait
      data-sharing-tool generate-package --package-name cup-analyses \\
          --lims-manifest-csv lims.csv --workflow-manifest-csv workflows.csv \\
          --exclude-primary-data --secondary-analysis-path-prefix / --wait
    """
    if dry_run and wait:
        raise click.UsageError("--dry-run creates nothing to wait for: use one or the other.")
    manifests = read_manifests(
        package_name=package_name,
        lims_manifest_csv=lims_manifest_csv,
        workflow_manifest_csv=workflow_manifest_csv,
        exclude_primary_data=exclude_primary_data,
        defrost_archived_fastqs=defrost_archived_fastqs,
        use_workflow_filters=not no_use_workflow_file_filters,
        primary_data_path_prefix=primary_data_path_prefix,
        secondary_analysis_path_prefix=secondary_analysis_path_prefix,
    )
    if dry_run:
        with api_client() as client:
            answer = client.package_dry_run(
                package_name=package_name, package_request=manifests.package_request
            )
        if as_json:
            output.print_json(answer)
        else:
            print_dry_run(answer)
        return
    create_package(package_name=package_name, manifests=manifests, wait=wait, as_json=as_json)


@dataclass(frozen=True)
class ManifestRequest:
    """Manifests read and checked locally, and the package request they make."""

    lims: LimsManifest
    workflow: WorkflowManifest | None
    package_request: dict[str, Any]

    def summary(self) -> str:
        return (
            f"{len(self.lims.library_ids)} libraries"
            + (f", {len(self.workflow.portal_run_ids)} portal runs" if self.workflow else "")
            + f"; data types: {', '.join(self.package_request['dataTypeList'])}"
        )


def read_manifests(
    *,
    package_name: str,
    lims_manifest_csv: Path,
    workflow_manifest_csv: Path | None,
    exclude_primary_data: bool,
    defrost_archived_fastqs: bool,
    use_workflow_filters: bool,
    primary_data_path_prefix: str,
    secondary_analysis_path_prefix: str,
) -> ManifestRequest:
    """Check the name and both manifests and build the request; any problem is a CliError
    (with every manifest problem listed) before anything is sent. Prints the warnings."""
    try:
        validate_package_name(package_name)
        lims = read_lims_manifest(lims_manifest_csv)
        workflow = (
            read_workflow_manifest(workflow_manifest_csv, lims=lims)
            if workflow_manifest_csv is not None
            else None
        )
        package_request = build_package_request(
            lims=lims,
            workflow=workflow,
            exclude_primary_data=exclude_primary_data,
            defrost_archived_fastqs=defrost_archived_fastqs,
            use_workflow_filters=use_workflow_filters,
            primary_data_path_prefix=primary_data_path_prefix,
            secondary_analysis_path_prefix=secondary_analysis_path_prefix,
        )
    except ManifestError as exc:
        raise CliError(
            "invalid manifest, nothing was sent:",
            exit_code=ExitCode.INVALID_INPUT,
            details=[str(problem) for problem in exc.problems],
        ) from None
    except RequestError as exc:
        raise CliError(f"{exc}; nothing was sent", exit_code=ExitCode.INVALID_INPUT) from None
    for message in lims.warnings + (workflow.warnings if workflow else []):
        output.warn(message)
    return ManifestRequest(lims=lims, workflow=workflow, package_request=package_request)


def create_package(
    *, package_name: str, manifests: ManifestRequest, wait: bool, as_json: bool
) -> None:
    with api_client() as client:
        try:
            package = client.package_create(
                package_name=package_name, package_request=manifests.package_request
            )
        except KeyboardInterrupt:
            raise CliError(
                "Interrupted while creating the package; it may exist. Check with:\n"
                f"  {PROG} list-packages --package-name {package_name}",
                exit_code=ExitCode.INTERRUPTED,
            ) from None
        package_id = package["id"]
        output.info(f"Created package {package_id} ({package_name}): {manifests.summary()}.")
        _follow_created(
            package,
            fetch=lambda: client.package_get(package_id),
            describe=describe_package,
            label=f"package {package_id}",
            ready=f"Package {package_id} is ready",
            follow_command=follow_package(package_id),
            wait=wait,
            as_json=as_json,
        )


@cli.command("list-packages", epilog=ENVIRONMENT_HELP)
@click.option("--package-name", help="Only packages with this exact name.")
@click.option(
    "--status",
    "statuses",
    multiple=True,
    type=click.Choice(["PENDING", "RUNNING", "UNARCHIVING", "SUCCEEDED", "FAILED", "ABORTED"]),
    help="Only packages in this status (repeatable).",
)
@click.option("--start-date", help="Requested on or after this day (YYYY-MM-DD, local time).")
@click.option("--end-date", help="Requested on or before this day (YYYY-MM-DD, inclusive).")
@click.option(
    "--max-packages",
    type=click.IntRange(min=1),
    default=1000,
    show_default=True,
    help="Show at most this many (newest first).",
)
@json_option()
def list_packages(
    package_name: str | None,
    statuses: tuple[str, ...],
    start_date: str | None,
    end_date: str | None,
    max_packages: int,
    as_json: bool,
) -> None:
    """List packages, newest first.

    Package names are not unique: use the request times to pick the id you want.

    \b
    Examples:
      data-sharing-tool list-packages --package-name cup-fastqs
      data-sharing-tool list-packages --start-date 2024-11-01 --status SUCCEEDED --json
    """
    filters = {
        "packageName": package_name,
        "status": ",".join(statuses) or None,
        "requestAfter": parse_day(start_date, end=False) if start_date else None,
        "requestBefore": parse_day(end_date, end=True) if end_date else None,
    }
    with api_client() as client:
        packages = list(client.packages_list(limit=max_packages, **filters))
    _print_list(packages, PACKAGE_COLUMNS, as_json=as_json, nothing="No packages match.")


@cli.command("get-package-status", epilog=ENVIRONMENT_HELP)
@click.option("--package-id", required=True, help="The package id (pkg.<id>).")
@click.option(
    "--wait", is_flag=True, help="Wait until the package is SUCCEEDED, FAILED or ABORTED."
)
@json_option()
def get_package_status(package_id: str, wait: bool, as_json: bool) -> None:
    """Show a package: status, error message, counts and sizes.

    With --wait, exits 0 only when the package SUCCEEDED.

    \b
    Example:
      data-sharing-tool get-package-status --package-id pkg.01JD5V7Q3S8K2M4N6P8R0T2V4X
    """
    package_id = normalize_job_id(package_id, prefix="pkg")
    with api_client() as client:
        _show_job(
            fetch=lambda: client.package_get(package_id),
            describe=describe_package,
            show=print_package,
            label=f"package {package_id}",
            follow_command=follow_package(package_id),
            wait=wait,
            as_json=as_json,
        )


@cli.command("view-package-report", epilog=ENVIRONMENT_HELP)
@click.option("--package-id", required=True, help="The package id (pkg.<id>).")
@click.option(
    "--output",
    "output_path",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Save the report to this file through the API instead (a .pdf name gets the PDF).",
)
@json_option("Print the API's JSON answer.")
def view_package_report(package_id: str, output_path: Path | None, as_json: bool) -> None:
    """Print a short-lived URL of the package's HTML report; open it with $BROWSER when set.

    With --output, the report (HTML, or PDF for a `.pdf` name) is downloaded through the API,
    for when the storage behind the URL is not reachable from where you are.

    \b
    Examples:
      data-sharing-tool view-package-report --package-id pkg.01JD5V7Q3S8K2M4N6P8R0T2V4X
      BROWSER=firefox data-sharing-tool view-package-report --package-id pkg.01JD...
      data-sharing-tool view-package-report --package-id pkg.01JD... --output report.pdf
    """
    package_id = normalize_job_id(package_id, prefix="pkg")
    if output_path is not None:
        with api_client() as client:
            size = client.package_report_download(
                package_id, destination=output_path, pdf=output_path.suffix.lower() == ".pdf"
            )
        output.info(
            f"Saved the report of {package_id} to {output_path} ({output.human_bytes(size)})."
        )
        if as_json:
            output.print_json({"path": str(output_path), "bytes": size})
        else:
            click.echo(str(output_path))
        open_in_browser(output_path.resolve().as_uri())
        return
    with api_client() as client:
        response = client.package_report_url(package_id)
    url = _url_from(response, "url", "reportUrl", "presignedUrl")
    if as_json:
        output.print_json(response)
    else:
        click.echo(url)
    open_in_browser(url)


@cli.command("push-package", epilog=ENVIRONMENT_HELP)
@click.option("--package-id", required=True, help="The package id (pkg.<id>).")
@click.option(
    "--share-location",
    required=True,
    help="s3://bucket/prefix/ or icav2://<project id or name>/path/",
)
@click.option("--wait", is_flag=True, help="Wait until the push ends, showing files done / total.")
@json_option("Print the push job's JSON instead of its id.")
def push_package(package_id: str, share_location: str, wait: bool, as_json: bool) -> None:
    """Push (copy) a package's files to an S3 prefix or an ICAv2 project folder.

    Prints the push job id (`psh.<id>`) on stdout. With --wait, exits 0 only when every file was
    copied and verified (SUCCEEDED).

    \b
    Examples:
      data-sharing-tool push-package --package-id pkg.01JD... \\
          --share-location s3://collaborator-bucket/incoming/cup/ --wait
      data-sharing-tool push-package --package-id pkg.01JD... \\
          --share-location icav2://my-project/incoming/
    """
    package_id = normalize_job_id(package_id, prefix="pkg")
    if not share_location.startswith(("s3://", "icav2://")):
        raise CliError(
            f"--share-location {share_location!r} must be s3://bucket/prefix/ or "
            "icav2://project/path/; nothing was sent",
            exit_code=ExitCode.INVALID_INPUT,
        )
    with api_client() as client:
        job = client.package_push(package_id, share_destination=share_location)
        push_job_id = job["id"]
        output.info(f"Pushing package {package_id} to {share_location}: push job {push_job_id}.")
        _follow_created(
            job,
            fetch=lambda: client.push_get(push_job_id),
            describe=describe_push,
            label=f"push job {push_job_id}",
            ready=f"Push job {push_job_id} SUCCEEDED",
            follow_command=follow_push(push_job_id),
            wait=wait,
            as_json=as_json,
        )


@cli.command("presign-package", epilog=ENVIRONMENT_HELP)
@click.option("--package-id", required=True, help="The package id (pkg.<id>).")
@click.option(
    "--file-url-expiry-days",
    type=click.IntRange(min=1, max=7),
    help="How long the file URLs in the script work (server default: 7 days, the most S3 allows).",
)
@json_option("Print the API's JSON answer (script URL, expiries, file count).")
def presign_package(package_id: str, file_url_expiry_days: int | None, as_json: bool) -> None:
    """Create a download script of presigned URLs; print a short-lived URL to it.

    Download the script and send it to the recipient, who runs it (`bash
    download-data.<name>.sh --download-path DIR`); it fetches and verifies every file. The URL
    of the script itself lasts a day; the file URLs inside last up to 7 days. $BROWSER, when
    set, opens the URL.

    \b
    Examples:
      data-sharing-tool presign-package --package-id pkg.01JD5V7Q3S8K2M4N6P8R0T2V4X
      curl -fsSL "$(data-sharing-tool presign-package --package-id pkg.01JD...)" -o download.sh
    """
    package_id = normalize_job_id(package_id, prefix="pkg")
    with api_client() as client:
        response = client.package_presign(
            package_id,
            file_url_expiry_seconds=file_url_expiry_days * 86400 if file_url_expiry_days else None,
        )
    url = _url_from(response, "scriptUrl", "url")
    if as_json:
        output.print_json(response)
    else:
        click.echo(url)
        if isinstance(response, dict):
            name = response.get("scriptName") or "the download script"
            size = output.human_bytes(response.get("totalBytes"))
            files = response.get("fileCount")
            if files is not None:
                output.info(f"{name}: {files} files" + (f", {size}" if size else "") + ".")
            if response.get("scriptUrlExpiresAt"):
                output.info(
                    f"This URL expires at {output.short_time(response['scriptUrlExpiresAt'])}; "
                    "the file URLs in the script at "
                    f"{output.short_time(response.get('fileUrlsExpireAt')) or '?'}."
                )
            for message in response.get("warnings") or []:
                output.warn(str(message))
    open_in_browser(url)


@cli.command("list-push-jobs", epilog=ENVIRONMENT_HELP)
@click.option("--package-id", help="Only push jobs of this package.")
@click.option(
    "--status",
    "statuses",
    multiple=True,
    type=click.Choice(["PENDING", "RUNNING", "SUCCEEDED", "FAILED", "ABORTED"]),
    help="Only push jobs in this status (repeatable).",
)
@click.option(
    "--max-jobs",
    type=click.IntRange(min=1),
    default=1000,
    show_default=True,
    help="Show at most this many (newest first).",
)
@json_option()
def list_push_jobs(
    package_id: str | None, statuses: tuple[str, ...], max_jobs: int, as_json: bool
) -> None:
    """List push jobs, newest first.

    \b
    Example:
      data-sharing-tool list-push-jobs --package-id pkg.01JD5V7Q3S8K2M4N6P8R0T2V4X
    """
    filters = {
        "packageId": normalize_job_id(package_id, prefix="pkg") if package_id else None,
        "status": ",".join(statuses) or None,
    }
    with api_client() as client:
        jobs = list(client.pushes_list(limit=max_jobs, **filters))
    _print_list(jobs, PUSH_COLUMNS, as_json=as_json, nothing="No push jobs match.")


@cli.command("get-push-job-status", epilog=ENVIRONMENT_HELP)
@click.option("--push-job-id", required=True, help="The push job id (psh.<id>).")
@click.option(
    "--wait", is_flag=True, help="Wait until the push job ends, showing files done / total."
)
@json_option()
def get_push_job_status(push_job_id: str, wait: bool, as_json: bool) -> None:
    """Show a push job: status, destination, files done / total, error message.

    With --wait, exits 0 only when the push SUCCEEDED.

    \b
    Example:
      data-sharing-tool get-push-job-status --push-job-id psh.01JD5V7Q3S8K2M4N6P8R0T2V4X
    """
    push_job_id = normalize_job_id(push_job_id, prefix="psh")
    with api_client() as client:
        _show_job(
            fetch=lambda: client.push_get(push_job_id),
            describe=describe_push,
            show=print_push,
            label=f"push job {push_job_id}",
            follow_command=follow_push(push_job_id),
            wait=wait,
            as_json=as_json,
        )


def _follow_created(
    job: dict[str, Any],
    *,
    fetch: Callable[[], dict[str, Any]],
    describe: Callable[[dict[str, Any]], str],
    label: str,
    ready: str,
    follow_command: str,
    wait: bool,
    as_json: bool,
) -> None:
    """After creating a job: with `wait`, follow it to the end (exit non-zero unless it
    SUCCEEDED), else say how to follow it. The id (or the JSON) is printed whatever the outcome,
    so a script can look at a failed job."""
    if wait:
        job = wait_for_job(
            fetch=fetch, describe=describe, label=label, follow_command=follow_command
        )
        if job.get("status") == "SUCCEEDED":
            output.info(f"{ready}: {describe(job)}")
    else:
        output.info(f"Follow it with: {follow_command}")
    if as_json:
        output.print_json(job)
    else:
        click.echo(job["id"])
    if wait:
        raise_for_final_status(job, label=label[0].upper() + label[1:])


def _print_list(
    rows: list[dict[str, Any]], columns: Sequence[output.Column], *, as_json: bool, nothing: str
) -> None:
    if as_json:
        output.print_json(rows)
    elif rows:
        output.print_table(rows, columns)
    else:
        output.info(nothing)


def _show_job(
    *,
    fetch: Callable[[], dict[str, Any]],
    describe: Callable[[dict[str, Any]], str],
    show: Callable[[dict[str, Any]], None],
    label: str,
    follow_command: str,
    wait: bool,
    as_json: bool,
) -> None:
    """Print a job (package or push); with `wait`, follow it to the end and exit non-zero unless
    it SUCCEEDED."""
    if wait:
        job = wait_for_job(
            fetch=fetch, describe=describe, label=label, follow_command=follow_command
        )
    else:
        job = fetch()
    if as_json:
        output.print_json(job)
    else:
        show(job)
    if wait:
        raise_for_final_status(job, label=label[0].upper() + label[1:])


# --- entry point ---------------------------------------------------------------------------------


def _print_error(exc: CliError) -> None:
    click.echo(f"error: {exc.message}", err=True)
    details = exc.details
    if isinstance(details, list):
        for item in details:
            click.echo(f"  {item}", err=True)
    elif isinstance(details, dict):
        for key, value in details.items():
            if isinstance(value, list):
                value = ", ".join(str(v) for v in value)
            click.echo(f"  {key}: {value}", err=True)
    elif details is not None:
        click.echo(f"  {details}", err=True)


def main(argv: list[str] | None = None) -> None:
    run: Callable[..., Any] = cli.main
    try:
        result = run(args=argv, prog_name=PROG, standalone_mode=False)
    except CliError as exc:
        _print_error(exc)
        sys.exit(int(exc.exit_code))
    except click.exceptions.Abort:
        click.echo("\ninterrupted", err=True)
        sys.exit(int(ExitCode.INTERRUPTED))
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("\ninterrupted", err=True)
        sys.exit(int(ExitCode.INTERRUPTED))
    sys.exit(result if isinstance(result, int) else 0)
