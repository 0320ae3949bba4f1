import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from catalog_app.importers.storage import catalog_sync_storage
from datasharing.commands import domain_errors_as_command_errors


class Command(BaseCommand):
    help = (
        "Refresh size, ETag, storage class and restore state of catalogued objects from S3. "
        "With a URI, catalogue every object under it."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("uri", nargs="?", help="s3://bucket/prefix/ (optional)")

    def handle(self, *args: Any, **options: Any) -> None:
        with domain_errors_as_command_errors():
            result = catalog_sync_storage(uri=options.get("uri"))
        self.stdout.write(json.dumps(result.as_dict()))
