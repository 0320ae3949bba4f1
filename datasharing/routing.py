"""One URL, several operations: each HTTP method answered by its own view class.

House style is one `APIView` per operation, with its own serializers and permissions. Django
routes a path to one callable, and the predecessor-compatible paths put several operations on
one path (`GET /api/v1/package/` lists, `POST` creates). `operations_by_method` joins the
operation views of one path:

    path("package/", operations_by_method(get=PackageListApi, post=PackageCreateApi))

A request is handed, untouched, to the view of its method (HEAD to the GET view), which
authenticates, checks permissions and answers as if it were routed alone. Other methods get
DRF's answers from the joined view: OPTIONS, and 405 naming the allowed methods.

The OpenAPI generator (`datasharing.schema.SchemaGenerator`) documents each method from its
operation view, so the document is what one class per operation would give.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, ClassVar, cast

from django.http import HttpRequest, HttpResponseBase
from rest_framework.views import APIView

OperationCallable = Callable[..., HttpResponseBase]


class OperationsByMethodApi(APIView):
    """Dispatches to `operations[method]`; built by `operations_by_method`, not subclassed."""

    operations: ClassVar[Mapping[str, OperationCallable]] = {}

    def _allowed_methods(self) -> list[str]:
        return [
            method.upper()
            for method in self.http_method_names
            if method in self.operations or method == "options"
        ]

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        operation = self.operations.get((request.method or "").lower())
        if operation is None:
            return super().dispatch(request, *args, **kwargs)
        return operation(request, *args, **kwargs)


def operations_by_method(*, in_schema: bool = True, **views: type[APIView]) -> OperationCallable:
    """The view callable of one path: `get=ListApi, post=CreateApi`. `in_schema=False` leaves
    the path out of the OpenAPI document (an alias of a documented path)."""
    unknown = sorted(set(views) - set(APIView.http_method_names))
    if unknown:
        raise ValueError(f"Not HTTP methods: {', '.join(unknown)}.")
    operations: dict[str, OperationCallable] = {
        method: view.as_view() for method, view in views.items()
    }
    if "get" in operations and "head" not in operations:
        operations["head"] = operations["get"]
    joined = cast(
        type[OperationsByMethodApi],
        type(
            "".join(view.__name__ for view in views.values()),
            (OperationsByMethodApi,),
            {"operations": operations, "__module__": __name__},
        ),
    )
    return joined.as_view() if in_schema else joined.as_view(schema=None)
