"""OpenAPI generation: unique component names for serializers nested in views.

Views declare `InputSerializer` / `OutputSerializer` inside themselves (house style); the schema
names them after the view (`LibraryListApi.OutputSerializer` -> `LibraryListOutput`).
"""

from typing import Any

from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_spectacular.utils import OpenApiParameter


class AutoSchema(SpectacularAutoSchema):
    def get_serializer_name(self, serializer: Any, direction: Any) -> str:
        cls = serializer if isinstance(serializer, type) else type(serializer)
        parts = cls.__qualname__.split(".")
        if len(parts) < 2:
            return str(super().get_serializer_name(serializer, direction))
        owner = parts[-2].removeprefix("_").removesuffix("Api").removesuffix("View")
        return f"{owner}{parts[-1].removesuffix('Serializer')}"


def list_parameter(name: str, description: str) -> OpenApiParameter:
    """A query parameter read with `datasharing.query.query_list`."""
    return OpenApiParameter(
        name, str, many=True, description=description + " Repeat the key or comma-separate values."
    )
