"""Owner-or-admin: who may abort, delete or change an object someone made (SPEC §7; the table is
docs/permissions.md).

The owner of a package or push is who requested it, of an auto-share rule who created it. Admins
(group or superuser) act on every object; anyone else only on their own. An object without an
owner (made by automation or by a command without a user, or whose owner was deleted) is the
admins' alone.

`user=None` is the system: a management command run without a user, or automation. Whoever runs
them holds the database anyway, so ownership does not refuse them; policies that are judged for a
user (the destination allow-list) still hold them to the allow-list.
"""

from __future__ import annotations

from django.contrib.auth.models import User

from datasharing.auth import user_is_admin
from datasharing.errors import Forbidden


def user_owns_or_administers(*, user: User | None, owner_id: int | None) -> bool:
    """True when `user` is the owner (by id), an admin, or the system (None)."""
    if user is None or user_is_admin(user):
        return True
    return owner_id is not None and owner_id == user.pk


def require_owner_or_admin(
    *,
    user: User | None,
    owner_id: int | None,
    owner_name: str,
    thing: str,
    made: str,
    action: str,
) -> None:
    """403 naming the owner unless `user` may `action` `thing` (see `user_owns_or_administers`).

    `thing` names the object ("Package pkg.01..."), `made` how its owner made it ("requested",
    "created"), `action` what was refused ("abort"). Services call it before they look at the
    object's state: whoever may not act on an object is told so, not what state it is in."""
    if user_owns_or_administers(user=user, owner_id=owner_id):
        return
    if owner_id is not None:
        message = f"{thing} was {made} by {owner_name}: only they or an admin may {action} it."
    elif owner_name:
        message = (
            f"{thing} was {made} by {owner_name}, no longer a user: only an admin may {action} it."
        )
    else:
        message = (
            f"{thing} has no owner (made by automation or a command without a user): only an "
            f"admin may {action} it."
        )
    raise Forbidden(message, details={"owner": owner_name or None})
