import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from datasharing import s3
from datasharing.commands import domain_errors_as_command_errors
from packages_app.models import PackageStatus
from packages_app.report.artifacts import (
    REPORT_FORMATS,
    ReportFormat,
    package_artifacts_write,
    package_report_write,
    report_file_name,
)
from packages_app.selectors import package_get

_STILL_CHANGING = {PackageStatus.PENDING, PackageStatus.RUNNING, PackageStatus.UNARCHIVING}


class Command(BaseCommand):
    help = (
        "Render the summary report (HTML and PDF) of existing packages again from their frozen "
        "contents and store it in the artifact bucket."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("package_ids", nargs="+", metavar="PACKAGE_ID", help="pkg.<ULID>")
        parser.add_argument(
            "--format",
            dest="formats",
            action="append",
            choices=REPORT_FORMATS,
            help="Render only this format (repeatable; default: html and pdf).",
        )
        parser.add_argument(
            "--all-artifacts",
            action="store_true",
            help="Also rewrite manifest.tsv and checksums.md5.",
        )
        parser.add_argument(
            "--output-dir",
            type=Path,
            help="Also save a copy of each rendered report in this folder.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        formats: tuple[ReportFormat, ...] = tuple(options["formats"] or REPORT_FORMATS)
        output_dir: Path | None = options["output_dir"]
        if output_dir is not None:
            output_dir.mkdir(parents=True, exist_ok=True)
        for package_id in options["package_ids"]:
            with domain_errors_as_command_errors():
                package = package_get(package_id=package_id)
            if package.status in _STILL_CHANGING:
                raise CommandError(
                    f"{package.id} is {package.status}: its contents are still being frozen."
                )
            if package.status != PackageStatus.SUCCEEDED:
                self.stderr.write(f"warning: {package.id} is {package.status}; rendering anyway")
            started = time.monotonic()

            def progress(message: str, package_id: str = package.id) -> None:
                self.stdout.write(f"[{package_id}] {message}")
                self.stdout.flush()

            progress(f"rendering the report of {package.package_name!r}")
            if options["all_artifacts"]:
                if formats != REPORT_FORMATS:
                    raise CommandError("--all-artifacts renders both formats; drop --format.")
                package_artifacts_write(package=package, progress=progress)
            else:
                package_report_write(package=package, progress=progress, formats=formats)
            if output_dir is not None:
                for report_format in formats:
                    key = (
                        package.report_html_key
                        if report_format == "html"
                        else package.report_pdf_key
                    )
                    target = output_dir / report_file_name(package, report_format)
                    target.write_bytes(s3.get_object_bytes(settings.ARTIFACT_BUCKET, key))
                    progress(f"saved {target}")
            progress(f"done in {time.monotonic() - started:.1f} s")
