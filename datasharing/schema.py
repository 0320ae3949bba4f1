"""OpenAPI generation: unique component names for serializers nested in views, and one operation
view per method on shared paths.

Views declare `InputSerializer` / `OutputSerializer` inside themselves (house style); the schema
names them after the view (`LibraryListApi.OutputSerializer` -> `LibraryListOutput`). A
representation several operations return (a package, a push job) is declared once, on the view
that reads it (`PackageDetailApi.OutputSerializer`), reused by the others (`OutputSerializer =
PackageDetailApi.OutputSerializer`), and keeps its public component name with
`extend_schema_serializer(component_name="Package")`: clients generated from the document see the
same names whichever view owns the serializer.

Query parameters come from the view's `query_parameters` (`datasharing.api.ApiView`), the same
list the view checks requests against. `error_responses_hook` documents the errors every
operation can answer, with one `Error` body, and closes request bodies
(`additionalProperties: false`) as `datasharing.api.StrictSerializer` does.
"""

import re
from collections.abc import Callable, Iterator
from typing import Any

from django.core.validators import RegexValidator
from drf_spectacular.generators import SchemaGenerator as SpectacularSchemaGenerator
from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_spectacular.utils import OpenApiParameter
from rest_framework.exceptions import ValidationError
from rest_framework.views import APIView

from datasharing.errors import DomainError
from datasharing.query import (
    CONTROL_CLASS,
    MAX_LIST_VALUES,
    MAX_VALUE_LENGTH,
    QUERY_TEXT_RE,
)


class AutoSchema(SpectacularAutoSchema):
    def get_override_parameters(self) -> list[Any]:
        declared = list(getattr(self.view, "query_parameters", ()))
        return [*declared, *super().get_override_parameters()]

    def get_serializer_name(self, serializer: Any, direction: Any) -> str:
        cls = serializer if isinstance(serializer, type) else type(serializer)
        parts = cls.__qualname__.split(".")
        if len(parts) < 2:
            return str(super().get_serializer_name(serializer, direction))
        owner = parts[-2].removeprefix("_").removesuffix("Api").removesuffix("View")
        return f"{owner}{parts[-1].removesuffix('Serializer')}"


class SchemaGenerator(SpectacularSchemaGenerator):
    """Documents a path joined by `datasharing.routing.operations_by_method` from the operation
    view of each method (its serializers, permissions, pagination and `extend_schema`)."""

    def create_view(self, callback: Any, method: str, request: Any = None) -> APIView:
        operations = getattr(callback.cls, "operations", None)
        if operations:
            callback = operations[method.lower()]
        view: APIView = super().create_view(callback, method, request)
        return view


def json_pattern(pattern: re.Pattern[str] | str) -> str:
    """A Python pattern written for the document. `$` also matches before a final newline in
    Python (which test generators then produce); `(?!\\n)` keeps both readings equal, and the
    validators and views use `fullmatch`."""
    source = pattern.pattern if isinstance(pattern, re.Pattern) else pattern
    return source + "(?!\\n)" if source.endswith("$") else source


class DocumentedPattern(RegexValidator):
    """A serializer validator the document shows as `pattern`, whose check is the service's own
    parser (`parse_destination`, `parse_s3_uri`): the client gets its message, which says what is
    wrong, rather than "Enter a valid value". Tests keep the pattern and the parser in step."""

    def __init__(self, pattern: re.Pattern[str] | str, check: Callable[[str], object]) -> None:
        super().__init__(json_pattern(pattern))
        self.check = check

    def __call__(self, value: Any) -> None:
        try:
            self.check(value)
        except DomainError as exc:
            raise ValidationError(exc.message) from None


def list_parameter(
    name: str,
    description: str,
    *,
    pattern: re.Pattern[str] | str | None = None,
    enum: list[str] | None = None,
    choices: list[str] | None = None,
    max_length: int = MAX_VALUE_LENGTH,
) -> OpenApiParameter:
    """A query parameter read with `datasharing.query.query_list` (same pattern and bounds) or
    `query_choices` (`enum`: exactly these values; `choices`: these in any case). Without any
    of them, values are free text without commas or control characters."""
    items: dict[str, Any] = {"type": "string", "minLength": 1, "maxLength": max_length}
    if enum is not None:
        items = {"type": "string", "enum": enum}
    elif choices is not None:
        items = {"type": "string", "pattern": json_pattern(_any_case(choices))}
        description += f" One of {', '.join(choices)} (in any case)."
    else:
        items["pattern"] = json_pattern(pattern if pattern is not None else QUERY_TEXT_RE)
    return OpenApiParameter(
        name,
        {"type": "array", "items": items, "maxItems": MAX_LIST_VALUES},
        description=description + " Repeat the key or comma-separate values.",
    )


def _any_case(values: list[str]) -> str:
    """A pattern matching exactly `values`, each letter in either case (JSON Schema patterns
    have no case-insensitive flag)."""
    spelled = (
        "".join(f"[{ch.upper()}{ch.lower()}]" if ch.isalpha() else re.escape(ch) for ch in value)
        for value in values
    )
    return f"^(?:{'|'.join(spelled)})$"


def text_parameter(name: str, description: str, *, max_length: int = 1024) -> OpenApiParameter:
    """A single free-text value read with `datasharing.query.query_text`."""
    schema = {
        "type": "string",
        "minLength": 1,
        "maxLength": max_length,
        "pattern": json_pattern(f"^[^{CONTROL_CLASS}]+$"),
    }
    return OpenApiParameter(name, schema, description=description)


def date_parameter(name: str, description: str) -> OpenApiParameter:
    """An ISO 8601 date or date-time read with `datasharing.query.query_datetime`."""
    schema = {
        "anyOf": [{"type": "string", "format": "date"}, {"type": "string", "format": "date-time"}]
    }
    return OpenApiParameter(
        name, schema, description=description + " ISO 8601 date or date-time (UTC if naive)."
    )


def bool_parameter(name: str, description: str) -> OpenApiParameter:
    """A boolean read with `datasharing.query.query_bool`."""
    return OpenApiParameter(name, bool, description=description)


# --- Errors ---------------------------------------------------------------------------------------

ERROR_COMPONENT = {
    "type": "object",
    "description": "Every error the API answers: a message, and details when there are some "
    "(the fields of a validation error, the problems of a request).",
    "properties": {"message": {"type": "string"}, "details": {}},
    "required": ["message"],
}
ERROR_DESCRIPTIONS = {
    "400": "Invalid input: a malformed or unknown query parameter, path id or body field.",
    "401": "No credentials, or invalid ones.",
    "403": "Your role does not allow this.",
    "404": "No such id, or a page past the last one.",
    "413": "Request body too large.",
    "415": "Unsupported media type: send the body as documented.",
    "414": "The request line (URL with its query) is longer than 8190 bytes: answered by the "
    "web server (gunicorn --limit-request-line) before the API, not in JSON. Split long "
    "filter lists over several requests.",
}


def _operations(result: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for path_item in result.get("paths", {}).values():
        for method, operation in path_item.items():
            if method in ("get", "put", "post", "patch", "delete", "head", "options", "trace"):
                yield operation


def _error_codes(operation: dict[str, Any]) -> list[str]:
    """Codes an operation can answer besides those it declares: 401/403 where a user is needed;
    400 for any authenticated operation (every API view refuses unknown query keys) or one with
    parameters; 404 with a path id or pages; 413 with a body, 415 with a parsed one; 414 where
    list parameters can make a URL longer than the web server reads."""
    parameters = operation.get("parameters", [])
    secured = bool(operation.get("security"))
    has_body = "requestBody" in operation
    # Our parsers answer 415 for other media types; a view that reads its raw body (Slack's
    # form) has none.
    parsed_body = has_body and set(operation["requestBody"].get("content", {})) <= {
        "application/json",
        "multipart/form-data",
    }
    codes = []
    if secured or parameters or has_body:
        codes.append("400")
    if secured:
        codes += ["401", "403"]
    if any(p["in"] == "path" or p["name"] == "page" for p in parameters):
        codes.append("404")
    if any(p["in"] == "query" and p["schema"].get("type") == "array" for p in parameters):
        codes.append("414")
    if has_body:
        codes.append("413")
    if parsed_body:
        codes.append("415")
    return codes


def _close_request_schemas(result: dict[str, Any]) -> None:
    """`additionalProperties: false` on request bodies and the objects nested in them."""
    schemas = result.get("components", {}).get("schemas", {})
    seen: set[str] = set()

    def close(schema: Any) -> None:
        if isinstance(schema, list):
            for item in schema:
                close(item)
            return
        if not isinstance(schema, dict):
            return
        ref = schema.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
            name = ref.rsplit("/", 1)[-1]
            if name not in seen:
                seen.add(name)
                close(schemas.get(name))
            return
        if schema.get("type") == "object" and "properties" in schema:
            schema.setdefault("additionalProperties", False)
        for key in ("properties",):
            for value in schema.get(key, {}).values():
                close(value)
        for key in ("items", "allOf", "anyOf", "oneOf"):
            if key in schema:
                close(schema[key])

    for operation in _operations(result):
        for media in operation.get("requestBody", {}).get("content", {}).values():
            close(media.get("schema"))


def error_responses_hook(
    result: dict[str, Any], generator: Any, request: Any, public: bool
) -> dict[str, Any]:
    """Postprocessing hook (after camelization): the `Error` component, the error codes of
    every operation, and closed request bodies."""
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_COMPONENT
    error_body = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for operation in _operations(result):
        responses = operation.setdefault("responses", {})
        for code in _error_codes(operation):
            responses.setdefault(code, {"description": ERROR_DESCRIPTIONS[code]})
        for code, response in responses.items():
            if code.startswith(("4", "5")) and code != "414" and not response.get("content"):
                response["content"] = error_body
        operation["responses"] = dict(sorted(responses.items()))
    _close_request_schemas(result)
    return result
