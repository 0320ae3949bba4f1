"""`manage.py import_auto_jobs jobs.json [--user NAME]`: create or update auto-share rules from
the predecessor's JSON array of jobs (all or nothing), with the API's checks for that user
(docs/permissions.md)."""

import json
from typing import Any

from django.contrib.auth.models import User
from django.core.management.base import BaseCommand, CommandError, CommandParser

from automation_app.rules import auto_share_rules_import
from datasharing.commands import domain_errors_as_command_errors, read_text_file


class Command(BaseCommand):
    help = (
        "Create or update auto-share rules by jobName from a JSON array of jobs (the "
        "predecessor's format); nothing is written when any job is invalid."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="JSON file: an array of job objects")
        parser.add_argument(
            "--user",
            "--as-user",
            dest="user",
            default="",
            help="Act as this user, as the API would: new rules are theirs, changed rules must "
            "be theirs (or they an admin), and every rule created or changed is judged against "
            "their right to push to its destination; automatic pushes are then judged for them. "
            "Default: no user, so only allow-listed destinations are accepted and the rules "
            "record no editor.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        text = read_text_file(options["file"])
        try:
            jobs = json.loads(text)
        except ValueError as exc:
            raise CommandError(f"{options['file']} is not valid JSON: {exc}") from None
        user = None
        if options["user"]:
            user = User.objects.filter(username=options["user"], is_active=True).first()
            if user is None:
                raise CommandError(f"No active user {options['user']!r}.")
        with domain_errors_as_command_errors():
            counts = auto_share_rules_import(jobs=jobs, user=user)
        self.stdout.write(json.dumps(counts))
