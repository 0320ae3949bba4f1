"""API field names: camelCase in JSON, snake_case accepted on input (SPEC §10)."""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from typing import Any


def camel(name: str) -> str:
    """`library_id_list` -> `libraryIdList` (names in messages are the API's)."""
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def snake(name: str) -> str:
    """`libraryIdList` -> `library_id_list`; snake_case passes through unchanged."""
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()


def fields_by_snake_name(
    data: Mapping[Any, Any], known: Collection[str], problems: list[str], *, what: str = ""
) -> dict[str, Any]:
    """The values of `data` keyed by snake_case name, for keys written in either case.

    Unknown keys and a field given in both cases are added to `problems` (messages name fields
    in camelCase, as the API writes them); `what` (e.g. "packageRequest") says where."""
    values: dict[str, Any] = {}
    unknown: list[str] = []
    for raw_key, value in data.items():
        key = snake(str(raw_key))
        if key not in known:
            unknown.append(str(raw_key))
            continue
        if key in values:
            problems.append(f"{camel(key)} is given twice (camelCase and snake_case).")
        values[key] = value
    if unknown:
        where = f" in {what}" if what else ""
        problems.append(
            f"Unknown field(s){where}: {', '.join(sorted(unknown))}. Known fields: "
            f"{', '.join(camel(f) for f in known)}."
        )
    return values
