"""Admin-site personas: a role user made staff and given Django model permissions, logged in.

The role groups carry no model permissions; an admin gives staff users the pages they need. The
owner-or-admin rules of docs/permissions.md must hold for such a curator too, not only for
superusers."""

from __future__ import annotations

from django.contrib.auth.models import Permission, User
from django.test import Client


def staff_client(user: User, *permissions: str) -> Client:
    """`user` as staff holding `permissions` ("app_label.codename"), logged in to the admin."""
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    for name in permissions:
        app_label, codename = name.split(".", 1)
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
        )
    client = Client()
    client.force_login(user)
    return client
