"""The package request of SPEC §5: parsing and shape validation (no database access).

Accepts the predecessor's camelCase keys (`libraryIdList`) and snake_case (`library_id_list`),
as the API parser, the management command and other apps may hand over either. Errors name the
fields the way the caller wrote them: camelCase.

What needs the catalog (unknown ids, portal runs of other libraries) is checked by
`packages_app.resolution.package_selection_check`.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

from data_sharing_formats.identifiers import (
    IDENTIFIER_RE,
    INSTRUMENT_RUN_ID_RE,
    PACKAGE_NAME_MAX_LENGTH,
    PACKAGE_NAME_RE,
    PORTAL_RUN_ID_RE,
    WORKFLOW_NAME_RE,
)
from django.conf import settings

from datasharing.errors import DomainError
from datasharing.names import camel, fields_by_snake_name
from packages_app.models import DataType

# A path prefix is one folder name (or "/" for none): no "/", "..", spaces or control characters.
PATH_PREFIX_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.+-]{0,99}$", re.ASCII)
NO_PREFIX = "/"

DEFAULT_PRIMARY_PREFIX = "fastq"
DEFAULT_SECONDARY_PREFIX = "secondary-analysis"

# The one list that selects libraries (at most one may be given).
METADATA_LISTS = ("library_id_list", "subject_id_list", "individual_id_list", "project_id_list")
ID_LISTS = (
    *METADATA_LISTS,
    "instrument_run_id_list",
    "portal_run_id_list",
    "portal_run_id_exclusion_list",
    "secondary_analysis_type_list",
)
BOOL_FIELDS = ("defrost_archived_fastqs", "use_workflow_filters")
PREFIX_FIELDS = ("primary_data_path_prefix", "secondary_analysis_path_prefix")
REQUEST_FIELDS = (*ID_LISTS, "data_type_list", *BOOL_FIELDS, *PREFIX_FIELDS)

ID_PATTERNS: dict[str, tuple[re.Pattern[str], str]] = {
    "library_id_list": (IDENTIFIER_RE, "library id"),
    "subject_id_list": (re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]{0,254}$"), "subject id"),
    "individual_id_list": (IDENTIFIER_RE, "individual id"),
    "project_id_list": (IDENTIFIER_RE, "project id"),
    "instrument_run_id_list": (INSTRUMENT_RUN_ID_RE, "instrument run id"),
    "portal_run_id_list": (PORTAL_RUN_ID_RE, "portal run id (YYYYMMDD + 8 hex characters)"),
    "portal_run_id_exclusion_list": (
        PORTAL_RUN_ID_RE,
        "portal run id (YYYYMMDD + 8 hex characters)",
    ),
    "secondary_analysis_type_list": (WORKFLOW_NAME_RE, "workflow name"),
}


@dataclass(frozen=True)
class PackageRequest:
    """A validated request. Lists are None when not given (an empty list counts as not given);
    ids are de-duplicated, in the order given. Library ids stay as written: `L2400101_topup`
    selects its base library `L2400101` when resolved."""

    data_type_list: list[str]
    library_id_list: list[str] | None = None
    subject_id_list: list[str] | None = None
    individual_id_list: list[str] | None = None
    project_id_list: list[str] | None = None
    instrument_run_id_list: list[str] | None = None
    portal_run_id_list: list[str] | None = None
    portal_run_id_exclusion_list: list[str] | None = None
    secondary_analysis_type_list: list[str] | None = None
    defrost_archived_fastqs: bool = False
    use_workflow_filters: bool = True
    primary_data_path_prefix: str = DEFAULT_PRIMARY_PREFIX
    secondary_analysis_path_prefix: str = DEFAULT_SECONDARY_PREFIX

    @property
    def wants_fastq(self) -> bool:
        return DataType.FASTQ in self.data_type_list

    @property
    def wants_secondary(self) -> bool:
        return DataType.SECONDARY_ANALYSIS in self.data_type_list

    @property
    def metadata_list(self) -> tuple[str, list[str]] | None:
        """(field name, ids) of the list that selects libraries, or None (run-only request)."""
        for name in METADATA_LISTS:
            values = getattr(self, name)
            if values:
                return name, values
        return None

    def as_dict(self) -> dict[str, Any]:
        """The stored form (snake_case, lists not given left out, defaults written out)."""
        return {k: v for k, v in asdict(self).items() if v is not None}


def package_name_validate(package_name: Any) -> str:
    if not isinstance(package_name, str) or not package_name:
        raise DomainError(
            "packageName is required: a name such as 'CUP-fastqs-2025-04'.",
            details={"field": "packageName"},
        )
    if (
        len(package_name) > PACKAGE_NAME_MAX_LENGTH
        or not PACKAGE_NAME_RE.fullmatch(package_name)
        or ".." in package_name
    ):
        raise DomainError(
            f"Invalid packageName {package_name[:100]!r}: it must start with a letter and contain "
            "only letters, digits, '_', '.', '+' and '-' (no '/', '..', spaces or control "
            "characters), "
            f"at most {PACKAGE_NAME_MAX_LENGTH} characters.",
            details={"field": "packageName"},
        )
    return package_name


def _id_list(name: str, value: Any, problems: list[str]) -> list[str] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        problems.append(f"{camel(name)} must be a list of strings.")
        return None
    limit = settings.PACKAGE_REQUEST_MAX_IDS
    if len(value) > limit:
        problems.append(f"{camel(name)} has {len(value)} entries; at most {limit} are allowed.")
        return None
    pattern, what = ID_PATTERNS[name]
    cleaned: list[str] = []
    invalid: list[str] = []
    for item in value:
        item = item.strip()
        if not pattern.fullmatch(item):
            invalid.append(item)
        elif item not in cleaned:
            cleaned.append(item)
    if invalid:
        shown = ", ".join(repr(v[:60]) for v in invalid[:10])
        more = f" (and {len(invalid) - 10} more)" if len(invalid) > 10 else ""
        problems.append(f"{camel(name)}: not a valid {what}: {shown}{more}.")
    return cleaned or None


def _bool(name: str, value: Any, default: bool, problems: list[str]) -> bool:
    if value is None:
        return default
    if not isinstance(value, bool):
        problems.append(f"{camel(name)} must be true or false.")
        return default
    return value


def _prefix(name: str, value: Any, default: str, problems: list[str]) -> str:
    if value is None:
        return default
    if not isinstance(value, str):
        problems.append(f"{camel(name)} must be a string.")
        return default
    if value == NO_PREFIX:
        return value
    if not PATH_PREFIX_RE.fullmatch(value) or ".." in value:
        problems.append(
            f"{camel(name)} {value[:60]!r} is not a valid path prefix: use one folder name "
            "(letters, digits, '_', '.', '+', '-'; no '/', '..', spaces or control characters) "
            "or '/' for no prefix."
        )
        return default
    return value


def package_request_parse(data: Any) -> PackageRequest:
    """Validate the shape of a request; raise one 400 DomainError naming every problem."""
    if not isinstance(data, dict):
        raise DomainError("packageRequest must be an object.", details={"field": "packageRequest"})
    problems: list[str] = []
    values = fields_by_snake_name(data, REQUEST_FIELDS, problems, what="packageRequest")
    lists = {name: _id_list(name, values.get(name), problems) for name in ID_LISTS}
    request = PackageRequest(
        data_type_list=_data_types(values.get("data_type_list"), problems),
        library_id_list=lists["library_id_list"],
        subject_id_list=lists["subject_id_list"],
        individual_id_list=lists["individual_id_list"],
        project_id_list=lists["project_id_list"],
        instrument_run_id_list=lists["instrument_run_id_list"],
        portal_run_id_list=lists["portal_run_id_list"],
        portal_run_id_exclusion_list=lists["portal_run_id_exclusion_list"],
        secondary_analysis_type_list=lists["secondary_analysis_type_list"],
        defrost_archived_fastqs=_bool(
            "defrost_archived_fastqs", values.get("defrost_archived_fastqs"), False, problems
        ),
        use_workflow_filters=_bool(
            "use_workflow_filters", values.get("use_workflow_filters"), True, problems
        ),
        primary_data_path_prefix=_prefix(
            "primary_data_path_prefix",
            values.get("primary_data_path_prefix"),
            DEFAULT_PRIMARY_PREFIX,
            problems,
        ),
        secondary_analysis_path_prefix=_prefix(
            "secondary_analysis_path_prefix",
            values.get("secondary_analysis_path_prefix"),
            DEFAULT_SECONDARY_PREFIX,
            problems,
        ),
    )
    problems += _conflicts(request)
    if problems:
        raise DomainError(
            "Invalid package request: " + " ".join(problems), details={"problems": problems}
        )
    return request


def _data_types(value: Any, problems: list[str]) -> list[str]:
    """The requested data types in canonical order (empty, with a problem, when invalid)."""
    valid_types = [t.value for t in DataType]
    if value is None or value == []:
        problems.append(f"dataTypeList is required: one or more of {', '.join(valid_types)}.")
        return []
    if not isinstance(value, list) or not all(isinstance(t, str) for t in value):
        problems.append("dataTypeList must be a list of strings.")
        return []
    bad = [t for t in value if t not in valid_types]
    if bad:
        problems.append(
            f"dataTypeList: unknown data type(s) {', '.join(repr(t[:40]) for t in bad[:5])}; "
            f"use {' and/or '.join(valid_types)}."
        )
    return [t for t in valid_types if t in value]


def _conflicts(request: PackageRequest) -> list[str]:
    """Fields that are valid alone but not together, and a request that selects nothing."""
    problems = []
    given_metadata = [name for name in METADATA_LISTS if getattr(request, name)]
    if len(given_metadata) > 1:
        problems.append(
            "Conflicting fields: give only one of libraryIdList, subjectIdList, "
            f"individualIdList or projectIdList (got {', '.join(camel(n) for n in given_metadata)})."
        )
    if not given_metadata and not request.instrument_run_id_list:
        problems.append(
            "Select libraries: give one of libraryIdList, subjectIdList, individualIdList or "
            "projectIdList, and/or instrumentRunIdList (every library on those runs)."
        )
    for name in ("portal_run_id_list", "secondary_analysis_type_list"):
        if getattr(request, name) and request.data_type_list and not request.wants_secondary:
            problems.append(
                f"Conflicting fields: {camel(name)} is given but dataTypeList does not include "
                "secondaryAnalysis."
            )
    if request.portal_run_id_list and request.secondary_analysis_type_list:
        problems.append(
            "Conflicting fields: give portalRunIdList (those runs) or secondaryAnalysisTypeList "
            "(the latest successful run of each type), not both."
        )
    if (
        request.wants_fastq
        and request.wants_secondary
        and request.primary_data_path_prefix == request.secondary_analysis_path_prefix
    ):
        problems.append(
            "Conflicting fields: primaryDataPathPrefix and secondaryAnalysisPathPrefix must "
            "differ when both data types are requested "
            f"(both are {request.primary_data_path_prefix!r})."
        )
    return problems


def package_request_from_stored(stored: dict[str, Any]) -> PackageRequest:
    """Rebuild the request saved on a package (it was validated when the package was created)."""
    return package_request_parse({k: v for k, v in stored.items() if k in REQUEST_FIELDS})
