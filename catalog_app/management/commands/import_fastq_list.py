import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from catalog_app.importers.fastq_list import catalog_import_fastq_list, fastq_list_records_from_csv
from datasharing.commands import domain_errors_as_command_errors, read_text_file


class Command(BaseCommand):
    help = "Register the FASTQs of a BCL Convert fastq_list.csv (RGID,RGSM,RGLB,Lane,Read1File,Read2File)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="fastq_list.csv")
        parser.add_argument(
            "--instrument-run-id", required=True, help="e.g. 241024_A00130_0336_BHW7MVDSXC"
        )
        parser.add_argument(
            "--base-uri", required=True, help="s3://bucket/prefix/ the file paths are relative to"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        text = read_text_file(options["file"])
        with domain_errors_as_command_errors():
            records = fastq_list_records_from_csv(text, base_uri=options["base_uri"])
            result = catalog_import_fastq_list(
                records=records,
                instrument_run_id=options["instrument_run_id"],
                base_uri=options["base_uri"],
            )
        self.stdout.write(json.dumps(result.as_dict()))
