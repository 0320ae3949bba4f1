"""OpenAPI generation: unique component names for serializers nested in views, and one operation
view per method on shared paths.

Views declare `InputSerializer` / `OutputSerializer` inside themselves (house style); the schema
names them after the view (`LibraryListApi.OutputSerializer` -> `LibraryListOutput`). A
representation several operations return (a package, a push job) is declared once, on the view
that reads it (`PackageDetailApi.OutputSerializer`), reused by the others (`OutputSerializer =
PackageDetailApi.OutputSerializer`), and keeps its public component name with
`extend_schema_serializer(component_name="Package")`: clients generated from the document see the
same names whichever view owns the serializer.
"""

from typing import Any

from drf_spectacular.generators import SchemaGenerator as SpectacularSchemaGenerator
from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_spectacular.utils import OpenApiParameter
from rest_framework.views import APIView


class AutoSchema(SpectacularAutoSchema):
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


def list_parameter(name: str, description: str) -> OpenApiParameter:
    """A query parameter read with `datasharing.query.query_list`."""
    return OpenApiParameter(
        name, str, many=True, description=description + " Repeat the key or comma-separate values."
    )
