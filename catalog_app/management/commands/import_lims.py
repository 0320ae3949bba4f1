import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from catalog_app.importers.lims import catalog_import_lims, lims_records_from_csv
from datasharing.commands import domain_errors_as_command_errors, read_text_file


class Command(BaseCommand):
    help = "Import a LIMS mart CSV export (idempotent upsert). Prints created/updated/unchanged counts."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="LIMS CSV file")

    def handle(self, *args: Any, **options: Any) -> None:
        text = read_text_file(options["file"])
        with domain_errors_as_command_errors():
            result = catalog_import_lims(records=lims_records_from_csv(text))
        self.stdout.write(json.dumps(result.as_dict()))
