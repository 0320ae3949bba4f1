import json
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from catalog_app.demo import seed_demo


class Command(BaseCommand):
    help = "Write a small synthetic facility (FASTQs, workflow outputs, manifests) into S3 and the catalog. Idempotent."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--demo-dir",
            default=str(settings.VAR_DIR / "demo"),
            help="where manifest CSVs are written",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        results = seed_demo(
            demo_dir=Path(options["demo_dir"]),
            progress=lambda msg: self.stderr.write(f"seed_demo: {msg}"),
        )
        self.stdout.write(json.dumps(results, indent=2))
