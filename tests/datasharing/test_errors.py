"""Domain errors: one type per outcome, mapped to HTTP by the one exception handler."""

from __future__ import annotations

import json

import pytest
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.test import APIRequestFactory
from rest_framework.views import APIView

from datasharing import errors
from datasharing.errors import (
    Conflict,
    DomainError,
    Forbidden,
    NotFound,
    PayloadTooLarge,
    api_exception_handler,
    domain_error_status,
)

STATUS_BY_TYPE = [
    (DomainError, 400),
    (Forbidden, 403),
    (NotFound, 404),
    (Conflict, 409),
    (PayloadTooLarge, 413),
]


def raising_view(error: Exception) -> APIView:
    """An API view whose only operation raises `error` (what a service does)."""

    class RaisingApi(APIView):
        authentication_classes: list[type] = []
        permission_classes = [AllowAny]

        def get(self, request: Request) -> Response:
            raise error

    return RaisingApi.as_view()


@pytest.mark.parametrize(("error_type", "status"), STATUS_BY_TYPE)
def test_each_domain_error_type_is_answered_with_its_status_message_and_details(
    error_type: type[DomainError], status: int
) -> None:
    error = error_type("Package pkg.X is RUNNING.", details={"package_id": "pkg.X"})
    response = raising_view(error)(APIRequestFactory().get("/"))
    response.render()
    assert response.status_code == status
    # The API's error JSON, camelCased by the renderer like every other body.
    assert json.loads(response.content) == {
        "message": "Package pkg.X is RUNNING.",
        "details": {"packageId": "pkg.X"},
    }


@pytest.mark.parametrize(("error_type", "status"), STATUS_BY_TYPE)
def test_an_error_without_details_has_only_a_message(
    error_type: type[DomainError], status: int
) -> None:
    response = api_exception_handler(error_type("No such thing."), {})
    assert response is not None
    assert (response.status_code, response.data) == (status, {"message": "No such thing."})


def test_every_domain_error_type_has_a_status() -> None:
    declared = {
        value
        for value in vars(errors).values()
        if isinstance(value, type) and issubclass(value, DomainError)
    }
    assert declared == {error_type for error_type, _ in STATUS_BY_TYPE}


def test_a_narrower_error_keeps_the_status_of_the_type_it_refines() -> None:
    class PresignNotFound(NotFound):
        pass

    assert domain_error_status(PresignNotFound("No presign with id 'x'.")) == 404


def test_code_that_catches_domain_errors_catches_every_type() -> None:
    for error_type, _ in STATUS_BY_TYPE:
        with pytest.raises(DomainError) as caught:
            raise error_type("refused")
        assert caught.value.message == str(caught.value) == "refused"


def test_services_cannot_choose_a_status() -> None:
    with pytest.raises(TypeError):
        DomainError("Package is RUNNING.", status_code=409)  # type: ignore[call-arg]
