import datetime as dt
import os
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.utils import timezone

from datasharing.auth import ROLE_GROUPS
from datasharing.errors import DomainError
from datasharing.tokens import api_token_create, api_token_find


class Command(BaseCommand):
    help = (
        "Create USERNAME if needed, put it in GROUP, make a new API token and print it alone on "
        "stdout (the database keeps only its digest: this is the only time it is shown)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--group", choices=ROLE_GROUPS, default="viewer")
        parser.add_argument("--name", default="", help="What the token is for (shown in admin).")
        parser.add_argument(
            "--expires-in-days",
            type=int,
            default=None,
            help="The token stops working after this many days (default: never).",
        )
        parser.add_argument(
            "--token-file",
            type=Path,
            default=None,
            help="Reuse the token kept in this file while it is valid for USERNAME; otherwise "
            "make one and write it there (owner-only permissions).",
        )

    @transaction.atomic
    def handle(self, *args: Any, **options: Any) -> None:
        username = options["username"]
        if not username or len(username) > 150:
            raise CommandError("Username must be 1 to 150 characters.")
        days = options["expires_in_days"]
        if days is not None and days < 1:
            raise CommandError("--expires-in-days must be at least 1.")
        user_model = get_user_model()
        user, created = user_model.objects.get_or_create(username=username)
        if created:
            user.set_unusable_password()
            user.save()
        try:
            group = Group.objects.get(name=options["group"])
        except Group.DoesNotExist:
            raise CommandError(
                f"Group {options['group']!r} is missing: run migrate first."
            ) from None
        user.groups.add(group)
        token_file: Path | None = options["token_file"]
        if token_file is not None and token_file.is_file():
            kept = token_file.read_text().strip()
            found = api_token_find(token=kept)
            if found is not None and found.user_id == user.pk:
                self.stdout.write(kept)
                return
        expires_at = timezone.now() + dt.timedelta(days=days) if days else None
        try:
            _, token = api_token_create(user=user, name=options["name"], expires_at=expires_at)
        except DomainError as exc:
            raise CommandError(exc.message) from None
        if token_file is not None:
            token_file.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(token_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(token + "\n")
            token_file.chmod(0o600)
        self.stdout.write(token)
