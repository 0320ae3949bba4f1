"""Authentication and the three roles of SPEC §10.

Tokens travel as `Authorization: Bearer <token>` or `Authorization: Token <token>`; the database
keeps their digests only (`datasharing.tokens`). Roles are
groups created by a migration: viewers read; curators also create, presign, push and abort;
admins (group or superuser) may do everything, including actions that need explicit permissions.
"""

from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication, get_authorization_header
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request

VIEWER = "viewer"
CURATOR = "curator"
ADMIN = "admin"
ROLE_GROUPS = (VIEWER, CURATOR, ADMIN)


class BearerTokenAuthentication(TokenAuthentication):
    """API tokens (`datasharing.tokens`) in the `Bearer` or `Token` scheme.

    Subclasses DRF's TokenAuthentication for its header handling and OpenAPI description; the
    credentials are checked against our digests, never a plaintext token table."""

    keyword = "Bearer"
    keywords = ("bearer", "token")

    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        auth = get_authorization_header(request).split()
        if not auth or auth[0].lower().decode(errors="replace") not in self.keywords:
            return None
        if len(auth) != 2:
            raise exceptions.AuthenticationFailed(
                "Invalid token header: expected '<scheme> <token>'."
            )
        try:
            token = auth[1].decode()
        except UnicodeError:
            raise exceptions.AuthenticationFailed("Invalid token header.") from None
        return self.authenticate_credentials(token)

    def authenticate_credentials(self, key: str) -> tuple[Any, Any]:
        from datasharing.tokens import api_token_find

        api_token = api_token_find(token=key)
        if api_token is None:
            raise exceptions.AuthenticationFailed("Invalid, expired or revoked token.")
        if not api_token.user.is_active:
            raise exceptions.AuthenticationFailed("User inactive or deleted.")
        return api_token.user, api_token


def user_roles(user: Any) -> set[str]:
    """Roles of a user (cached on the user object for the request)."""
    if not user or not user.is_authenticated or not user.is_active:
        return set()
    if user.is_superuser:
        return {VIEWER, CURATOR, ADMIN}
    cached = getattr(user, "_datasharing_roles", None)
    if cached is None:
        cached = set(user.groups.filter(name__in=ROLE_GROUPS).values_list("name", flat=True))
        user._datasharing_roles = cached
    roles = set(cached)
    if ADMIN in roles:
        roles |= {CURATOR, VIEWER}
    if CURATOR in roles:
        roles.add(VIEWER)
    return roles


def user_is_admin(user: Any) -> bool:
    return ADMIN in user_roles(user)


class RolePermission(BasePermission):
    """Reads need the viewer role; anything else needs curator (or `required_role` on the view)."""

    message = "Your role does not allow this action."

    def has_permission(self, request: Request, view: Any) -> bool:
        if not request.user or not request.user.is_authenticated:
            return False
        roles = user_roles(request.user)
        required = getattr(view, "required_role", None)
        if required is None:
            required = VIEWER if request.method in SAFE_METHODS else CURATOR
        return required in roles


def request_user(request: HttpRequest | Request) -> User:
    """The user a view or admin action acts for. They run after authentication and a permission
    check, so an anonymous user here is refused (403), never handed to a service."""
    user = request.user
    if not isinstance(user, User) or not user.is_authenticated:
        raise PermissionDenied
    return user
