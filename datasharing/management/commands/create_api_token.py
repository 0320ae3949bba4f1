from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from rest_framework.authtoken.models import Token

from datasharing.auth import ROLE_GROUPS


class Command(BaseCommand):
    help = "Create USERNAME if needed, put it in GROUP, and print its API token alone on stdout."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--group", choices=ROLE_GROUPS, default="viewer")

    @transaction.atomic
    def handle(self, *args: Any, **options: Any) -> None:
        username = options["username"]
        if not username or len(username) > 150:
            raise CommandError("Username must be 1 to 150 characters.")
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
        token, _ = Token.objects.get_or_create(user=user)
        self.stdout.write(token.key)
