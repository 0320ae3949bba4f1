"""`manage.py generate_package`: the predecessor CLI's `generate-package`, on the server.

The manifests are read and validated, and the request built, by the package the CLI uses too
(`data_sharing_formats`), so the same files give the same package request here and in
`data-sharing-tool generate-package`.
Formats: docs/cli.md.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from data_sharing_formats.manifests import (
    LimsManifest,
    ManifestError,
    WorkflowManifest,
    read_lims_manifest,
    read_workflow_manifest,
)
from data_sharing_formats.package_request import RequestError, build_package_request
from django.contrib.auth.models import User
from django.core.management.base import BaseCommand, CommandError, CommandParser

from datasharing.commands import domain_errors_as_command_errors
from packages_app import services
from packages_app.defrost import package_restore_progress
from packages_app.models import Package, PackageStatus


def _size(num: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if num < 1024 or unit == "TiB":
            return f"{num:.0f} {unit}" if unit == "B" else f"{num:.1f} {unit}"
        num /= 1024
    return f"{num} B"


def _describe(
    lims: LimsManifest, workflow: WorkflowManifest | None, workflow_names: list[str]
) -> str:
    text = f"{len(lims.library_ids)} library id(s)"
    if lims.instrument_run_ids:
        text += f" on {len(lims.instrument_run_ids)} instrument run(s)"
    if workflow is not None:
        text += f", {len(workflow.portal_run_ids)} workflow run(s)"
    if workflow_names:
        text += f", latest {', '.join(workflow_names)}"
    return text


class Command(BaseCommand):
    help = (
        "Create a package from a LIMS manifest (and optionally a workflow manifest), as the "
        "predecessor's `data-sharing-tool generate-package` did. Example: manage.py "
        "generate_package --package-name CUP-2025-04 --lims-manifest-csv lims.csv --wait"
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--package-name", required=True)
        parser.add_argument(
            "--lims-manifest-csv",
            required=True,
            help="CSV with a library_id column; a sequencing_run_id column restricts the FASTQs "
            "to those runs (a LIMS mart export works as is).",
        )
        parser.add_argument(
            "--workflow-manifest-csv",
            help="CSV with portal_run_id and library_id columns (a workflow mart export works "
            "as is): package those runs' secondary analysis too.",
        )
        parser.add_argument(
            "--secondary-analysis-type",
            action="append",
            default=[],
            metavar="WORKFLOW_NAME",
            help="Package the latest successful run of this workflow per library (repeatable).",
        )
        parser.add_argument(
            "--exclude-primary-data", action="store_true", help="Leave the FASTQs out."
        )
        parser.add_argument(
            "--defrost-archived-fastqs",
            action="store_true",
            help="Restore archived (Glacier / Deep Archive) files before the package succeeds.",
        )
        parser.add_argument(
            "--no-use-workflow-file-filters",
            action="store_true",
            help="Share every file of the workflow runs (except logs/ and cache/).",
        )
        parser.add_argument(
            "--primary-data-path-prefix", default="fastq", help="fastq (default), primary or /"
        )
        parser.add_argument(
            "--secondary-analysis-path-prefix",
            default="secondary-analysis",
            help="secondary-analysis (default), analysis or /",
        )
        parser.add_argument(
            "--requested-by", metavar="USERNAME", help="Record this user as the requester."
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Show what the package would contain; create nothing.",
        )
        parser.add_argument("--wait", action="store_true", help="Wait until the package finishes.")
        parser.add_argument("--poll-interval", type=float, default=5.0, help="Seconds (--wait).")
        parser.add_argument(
            "--timeout", type=float, default=0, help="Give up waiting after this many seconds."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        user = None
        if options["requested_by"]:
            user = User.objects.filter(username=options["requested_by"]).first()
            if user is None:
                raise CommandError(f"No user {options['requested_by']!r}.")
        lims, workflow = self._read_manifests(options)
        try:
            request = build_package_request(
                lims=lims,
                workflow=workflow,
                exclude_primary_data=options["exclude_primary_data"],
                defrost_archived_fastqs=options["defrost_archived_fastqs"],
                use_workflow_filters=not options["no_use_workflow_file_filters"],
                primary_data_path_prefix=options["primary_data_path_prefix"],
                secondary_analysis_path_prefix=options["secondary_analysis_path_prefix"],
                secondary_analysis_types=options["secondary_analysis_type"],
            )
        except RequestError as exc:
            raise CommandError(str(exc)) from None
        description = _describe(lims, workflow, options["secondary_analysis_type"])
        with domain_errors_as_command_errors():
            if options["dry_run"]:
                answer = services.package_dry_run(
                    package_name=options["package_name"], package_request=request
                )
                self.stdout.write(json.dumps(answer, indent=2))
                return
            package = services.package_create(
                package_name=options["package_name"], package_request=request, user=user
            )
        self.stdout.write(
            f"Generating package '{package.id}' ({package.package_name}): {description}"
        )
        if options["wait"]:
            self._wait(package, interval=options["poll_interval"], timeout=options["timeout"])

    def _read_manifests(
        self, options: dict[str, Any]
    ) -> tuple[LimsManifest, WorkflowManifest | None]:
        try:
            lims = read_lims_manifest(Path(options["lims_manifest_csv"]))
            workflow = (
                read_workflow_manifest(Path(options["workflow_manifest_csv"]), lims=lims)
                if options["workflow_manifest_csv"]
                else None
            )
        except ManifestError as exc:
            raise CommandError(f"Nothing was created; fix the manifest:\n{exc}") from None
        for warning in lims.warnings + (workflow.warnings if workflow else []):
            self.stderr.write(f"warning: {warning}")
        return lims, workflow

    def _wait(self, package: Package, *, interval: float, timeout: float) -> None:
        started = time.monotonic()
        last = ""
        try:
            while True:
                package.refresh_from_db()
                line = f"{package.status} ({package.step or '-'})"
                if package.status == PackageStatus.UNARCHIVING:
                    restored, archived = package_restore_progress(package=package)
                    line += f": {restored} of {archived} archived file(s) restored"
                if line != last:
                    self.stdout.write(f"[{time.strftime('%H:%M:%S')}] {line}")
                    last = line
                if package.status == PackageStatus.SUCCEEDED:
                    self.stdout.write(
                        f"Package '{package.id}' SUCCEEDED: {package.library_count} libraries, "
                        f"{package.file_count} files, {_size(package.total_bytes)}"
                        + (
                            f", {package.archived_file_count} archived"
                            if package.archived_file_count
                            else ""
                        )
                        + "."
                    )
                    return
                if package.is_terminal:
                    raise CommandError(
                        f"Package '{package.id}' {package.status}: {package.error_message}"
                    )
                if timeout and time.monotonic() - started > timeout:
                    raise CommandError(
                        f"Package '{package.id}' is still {package.status} after {timeout:g} s; "
                        "it keeps going: check it in the admin or with GET "
                        f"/api/v1/package/{package.id}."
                    )
                time.sleep(interval)
        except KeyboardInterrupt:
            raise CommandError(
                f"Stopped waiting; package '{package.id}' keeps going "
                f"(GET /api/v1/package/{package.id})."
            ) from None
