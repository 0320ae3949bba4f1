"""The destination policy (403): where a user may push.

First, for everyone (admins, `push_to_any_destination` and automation included): an S3
destination never overlaps an allowed catalogue source or the artifact bucket (one prefix
containing the other, in one bucket; a whole-bucket source overlaps everything in it), so a push
can neither overwrite the data the catalog describes nor write into the service's own artifacts.
ICAv2 destinations are not S3 buckets and are not concerned.

Then the allow-list: prefixes from SHARE_ALLOWED_DESTINATIONS and the admin-managed
`AllowedDestination` rows; admins and holders of `push_to_any_destination` may push anywhere
else.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import User

from datasharing.auth import user_is_admin
from datasharing.errors import DomainError, Forbidden
from sharing_app.destinations.destination import Destination, parse_destination
from sharing_app.destinations.models import AllowedDestination
from sharing_app.destinations.overlap import destination_overlap_problem

PUSH_ANY_DESTINATION_PERMISSION = "sharing_app.push_to_any_destination"


def _within(destination_uri: str, allowed_uri: str) -> bool:
    # Both end with "/", so a plain prefix test respects path segment boundaries.
    return destination_uri.startswith(allowed_uri)


def allowed_destination_prefixes() -> list[str]:
    """Normalised prefixes from SHARE_ALLOWED_DESTINATIONS and the enabled admin-managed entries.

    Malformed entries in the setting are ignored (an admin entry cannot be saved malformed)."""
    prefixes: list[str] = []
    raw = list(settings.SHARE_ALLOWED_DESTINATIONS) + list(
        AllowedDestination.objects.filter(enabled=True).values_list("prefix", flat=True)
    )
    for entry in raw:
        try:
            prefixes.append(parse_destination(entry).uri)
        except DomainError:
            continue
    return prefixes


def destination_is_allowed(destination: Destination) -> bool:
    return any(_within(destination.uri, prefix) for prefix in allowed_destination_prefixes())


def user_may_push_anywhere(user: User | None) -> bool:
    """Admins and holders of the explicit permission; never automation (no user)."""
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    return bool(user_is_admin(user) or user.has_perm(PUSH_ANY_DESTINATION_PERMISSION))


def require_destination_allowed(destination: Destination, *, user: User | None) -> None:
    """403 when the destination overlaps a catalogue source or the artifact bucket (whoever
    asks), else unless it is on the allow-list or the user may push anywhere.

    ICAv2 projects are matched as written: an entry naming a project by name does not admit the
    same project written by id (the name is resolved later, by the worker)."""
    problem = destination_overlap_problem(destination)
    if problem:
        raise Forbidden(problem)
    if destination_is_allowed(destination) or user_may_push_anywhere(user):
        return
    raise Forbidden(
        f"Destination {destination.uri} is not in the allowed destinations; ask an admin to add "
        "it (Admin > Allowed destinations) or to grant you the permission to push anywhere.",
    )
