"""Domain errors, and the one handler that renders every API error as JSON.

Error body: `{"message": "...", "details": {...}}` (`details` only when there are some). Clients
never get a 500 for input they sent.

Services and selectors raise `DomainError` (the input is invalid: 400) or one of its subclasses
for the other outcomes a user can act on; none of them knows about HTTP. The status of each
type is written once, in `_STATUS_BY_ERROR` below. Code that only needs to know "the domain
refused" (admin actions, management commands, automation) catches `DomainError`.
"""

import logging
from typing import Any

from django.core.exceptions import PermissionDenied, RequestDataTooBig, SuspiciousOperation
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

logger = logging.getLogger(__name__)


class DomainError(Exception):
    """A failure a user can act on. Raised as such: the input is invalid (400)."""

    def __init__(self, message: str, *, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def __str__(self) -> str:
        return self.message


class Forbidden(DomainError):
    """The user may not do this (403), e.g. push to a destination outside the allow-list."""


class NotFound(DomainError):
    """No such thing (404): an unknown id, or an id of the wrong kind."""


class Conflict(DomainError):
    """The thing is not in a state that allows this (409): not SUCCEEDED, expired, already
    pushing, already decided."""


class PayloadTooLarge(DomainError):
    """The request carries more than we accept (413)."""


# The one place a domain outcome becomes an HTTP status. Most specific first: a subclass of a
# subclass gets its own line or its parent's status.
_STATUS_BY_ERROR: tuple[tuple[type[DomainError], int], ...] = (
    (Forbidden, status.HTTP_403_FORBIDDEN),
    (NotFound, status.HTTP_404_NOT_FOUND),
    (Conflict, status.HTTP_409_CONFLICT),
    (PayloadTooLarge, status.HTTP_413_REQUEST_ENTITY_TOO_LARGE),
    (DomainError, status.HTTP_400_BAD_REQUEST),
)


def domain_error_status(exc: DomainError) -> int:
    return next(code for kind, code in _STATUS_BY_ERROR if isinstance(exc, kind))


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def _flatten_validation(detail: Any, prefix: str = "") -> list[str]:
    if isinstance(detail, dict):
        out: list[str] = []
        for key, value in detail.items():
            # Clients send camelCase (the parser snake_cases it): name fields as they wrote them.
            name = _camel(str(key)) if key != "non_field_errors" else ""
            out.extend(
                _flatten_validation(
                    value, f"{prefix}.{name}" if prefix and name else name or prefix
                )
            )
        return out
    if isinstance(detail, list):
        out = []
        for index, value in enumerate(detail):
            if isinstance(value, dict | list):
                out.extend(_flatten_validation(value, f"{prefix}[{index}]"))
            else:
                out.extend(_flatten_validation(value, prefix))
        return out
    return [f"{prefix}: {detail}" if prefix else str(detail)]


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, DomainError):
        body: dict[str, Any] = {"message": exc.message}
        if exc.details is not None:
            body["details"] = exc.details
        return Response(body, status=domain_error_status(exc))
    if isinstance(exc, RequestDataTooBig):
        return Response(
            {"message": "Request body too large."}, status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
        )
    if isinstance(exc, SuspiciousOperation):
        return Response({"message": "Bad request."}, status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    response = exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        messages = _flatten_validation(exc.detail)
        response.data = {"message": "; ".join(messages) or "Invalid input.", "details": exc.detail}
    elif isinstance(exc, exceptions.APIException):
        response.data = {"message": str(exc.detail)}
    if response.status_code >= status.HTTP_500_INTERNAL_SERVER_ERROR:
        logger.error("API error %s: %s", response.status_code, exc)
    return response


# --- Errors Django answers itself (no DRF view reached, or a view that crashed) -----------------
# Every path but the admin's gets the API's error JSON: no HTML page, no stack trace.


def _wants_html(request: HttpRequest) -> bool:
    return request.path.startswith("/admin/")


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _wants_html(request):
        return defaults.bad_request(request, exception or Exception("bad request"))
    return JsonResponse({"message": "Bad request."}, status=status.HTTP_400_BAD_REQUEST)


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _wants_html(request):
        return defaults.permission_denied(request, exception or Exception("forbidden"))
    return JsonResponse({"message": "Forbidden."}, status=status.HTTP_403_FORBIDDEN)


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _wants_html(request):
        return defaults.page_not_found(request, exception or Exception("not found"))
    return JsonResponse(
        {"message": f"No such endpoint: {request.path[:200]}"}, status=status.HTTP_404_NOT_FOUND
    )


def server_error(request: HttpRequest) -> HttpResponse:
    """The exception was logged by Django (`django.request`); the client gets no details."""
    if _wants_html(request):
        return defaults.server_error(request)
    return JsonResponse(
        {"message": "Internal server error."}, status=status.HTTP_500_INTERNAL_SERVER_ERROR
    )
