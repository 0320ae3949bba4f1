"""`manage.py export_auto_jobs [file]`: every auto-share rule as the JSON array that
`import_auto_jobs` reads."""

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from automation_app.rules import auto_share_rules_export


class Command(BaseCommand):
    help = "Write every auto-share rule as a JSON array of jobs (to FILE, or standard output)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", nargs="?", default="", help="Output file (default: stdout)")

    def handle(self, *args: Any, **options: Any) -> None:
        text = json.dumps(auto_share_rules_export(), indent=2) + "\n"
        if options["file"]:
            Path(options["file"]).write_text(text)
        else:
            self.stdout.write(text, ending="")
