"""The base of every API operation view and input serializer: nothing a client sends is ignored.

- `ApiView` (subclass it instead of DRF's `APIView`) declares its query parameters once, in
  `query_parameters`: the OpenAPI document lists them (`datasharing.schema.AutoSchema`) and a
  request with any other query key is a 400 naming it. Paginated views also read `page` and
  `rowsPerPage`.
- `StrictSerializer` (the base of every `InputSerializer`) refuses body fields it does not
  declare with a 400 naming them as the client wrote them (camelCase); the document says
  `additionalProperties: false` for every request body.

Authentication and permissions are checked first: a stranger learns nothing about parameters.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from django.http import QueryDict
from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from datasharing.names import camel
from datasharing.query import query_require_known


class ApiView(APIView):
    """One API operation. `query_parameters` are the only query keys it reads."""

    query_parameters: ClassVar[Sequence[OpenApiParameter]] = ()

    @classmethod
    def known_query_keys(cls) -> set[str]:
        keys = {p.name for p in cls.query_parameters if p.location == OpenApiParameter.QUERY}
        pagination_class = getattr(cls, "pagination_class", None)
        if pagination_class is not None:
            keys |= {pagination_class.page_query_param, pagination_class.page_size_query_param}
        return keys

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        query_require_known(request.query_params, self.known_query_keys())


# JSON types each field takes as is (DRF would also read "5" as 5, 1 as true and 0 as "0").
_JSON_TYPES: tuple[tuple[type[serializers.Field], tuple[type, ...]], ...] = (
    (serializers.BooleanField, (bool,)),
    (serializers.IntegerField, (int,)),
    (serializers.CharField, (str,)),
)


def _type_problem(field: serializers.Field, value: Any) -> str | None:
    if value is None:
        return None  # DRF's own null handling answers
    for field_type, json_types in _JSON_TYPES:
        if isinstance(field, field_type):
            wrong = not isinstance(value, json_types) or (
                json_types == (int,) and isinstance(value, bool)
            )
            return f"must be a JSON {json_types[0].__name__}." if wrong else None
    return None


class StrictSerializer(serializers.Serializer):
    """An input serializer that answers 400 naming the fields it does not know; in a JSON body,
    strings, integers and booleans must be given as such."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, dict) and not isinstance(data, QueryDict):
            problems = {
                name: [problem]
                for name, field in self.fields.items()
                if name in data and (problem := _type_problem(field, data[name])) is not None
            }
            if problems:
                raise serializers.ValidationError(problems)
        if isinstance(data, Mapping):
            unknown = sorted(str(key) for key in data if key not in self.fields)
            if unknown:
                # `.keys()`: the stubs type iterating a BindingDict as its fields.
                names = self.fields.keys()
                known = ", ".join(camel(str(name)) for name in names) or "none"
                raise serializers.ValidationError(
                    {
                        api_settings.NON_FIELD_ERRORS_KEY: [
                            f"Unknown field(s): {', '.join(camel(k)[:60] for k in unknown[:20])}. "
                            f"Known fields: {known}."
                        ]
                    }
                )
        return super().to_internal_value(data)
