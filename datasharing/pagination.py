"""The list envelope of SPEC §10, paginated in the database.

`{"links": {"previous", "next"}, "pagination": {"page", "rowsPerPage", "count"}, "results": []}`
Query parameters: `page` (1-based) and `rowsPerPage`, read by `datasharing.query.query_int`
(ASCII digits, range-checked).

A list view declares `pagination_class = EnvelopePagination` (the OpenAPI schema reads it) and
answers with `self.pagination_class.response(...)`: COUNT and LIMIT/OFFSET run in the database.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer
from rest_framework.views import APIView

from datasharing.query import MAX_INT, query_int


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
        size = query_int(
            request.query_params, self.page_size_query_param, minimum=1, maximum=self.max_page_size
        )
        return size if size is not None else int(self.page_size or 100)

    def get_page_number(self, request: Any, paginator: Any) -> int:
        """1-based; a page past the last one is a 404 (DRF's "Invalid page.")."""
        return query_int(request.query_params, self.page_query_param, minimum=1) or 1

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        return [
            {
                "name": self.page_query_param,
                "required": False,
                "in": "query",
                "description": "Page number, from 1 (a page past the last one is a 404).",
                "schema": {"type": "integer", "minimum": 1, "maximum": MAX_INT},
            },
            {
                "name": self.page_size_query_param,
                "required": False,
                "in": "query",
                "description": f"Rows per page (default {self.page_size or 100}).",
                "schema": {"type": "integer", "minimum": 1, "maximum": self.max_page_size},
            },
        ]

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
