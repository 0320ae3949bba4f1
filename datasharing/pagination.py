"""The list envelope of SPEC §10, paginated in the database.

`{"links": {"previous", "next"}, "pagination": {"page", "rowsPerPage", "count"}, "results": []}`
Query parameters: `page` (1-based) and `rowsPerPage`.

A list view declares `pagination_class = EnvelopePagination` (the OpenAPI schema reads it) and
answers with `self.pagination_class.response(...)`: COUNT and LIMIT/OFFSET run in the database.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer
from rest_framework.views import APIView


class EnvelopePagination(PageNumberPagination):
    page_query_param = "page"
    page_size_query_param = "rowsPerPage"

    @classmethod
    def response(
        cls,
        *,
        queryset: QuerySet[Any],
        serializer_class: type[BaseSerializer[Any]],
        request: Request,
        view: APIView,
    ) -> Response:
        """The requested page of `queryset`, serialized, in the envelope."""
        paginator = cls()
        page = paginator.paginate_queryset(queryset, request, view=view)
        return paginator.get_paginated_response(serializer_class(page, many=True).data)

    @property
    def max_page_size(self) -> int:  # type: ignore[override]
        return int(settings.PAGINATION_MAX_ROWS_PER_PAGE)

    def get_page_size(self, request: Any) -> int:
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return int(self.page_size or 100)
        try:
            size = int(raw)
        except ValueError:
            raise ValidationError({"rowsPerPage": "Must be an integer."}) from None
        if size < 1 or size > self.max_page_size:
            raise ValidationError({"rowsPerPage": f"Must be between 1 and {self.max_page_size}."})
        return size

    def paginate_queryset(self, queryset: Any, request: Any, view: Any = None) -> list[Any] | None:
        raw = request.query_params.get(self.page_query_param)
        if raw is not None:
            try:
                if int(raw) < 1:
                    raise ValueError
            except ValueError:
                raise ValidationError({"page": "Must be a positive integer."}) from None
        return super().paginate_queryset(queryset, request, view)

    def get_paginated_response(self, data: Any) -> Response:
        assert self.page is not None
        return Response(
            {
                "links": {"previous": self.get_previous_link(), "next": self.get_next_link()},
                "pagination": {
                    "page": self.page.number,
                    "rows_per_page": self.page.paginator.per_page,
                    "count": self.page.paginator.count,
                },
                "results": data,
            }
        )

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        return {
            "type": "object",
            "required": ["links", "pagination", "results"],
            "properties": {
                "links": {
                    "type": "object",
                    "properties": {
                        "previous": {"type": "string", "format": "uri", "nullable": True},
                        "next": {"type": "string", "format": "uri", "nullable": True},
                    },
                },
                "pagination": {
                    "type": "object",
                    "properties": {
                        "page": {"type": "integer"},
                        "rowsPerPage": {"type": "integer"},
                        "count": {"type": "integer"},
                    },
                },
                "results": schema,
            },
        }
