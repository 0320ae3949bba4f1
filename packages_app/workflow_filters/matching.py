"""Which files of a workflow run are shared: the always-excluded folders and the workflow file
filters (data in `WorkflowFileFilter` / `WorkflowFileFilterRule`, editable in the admin)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from datasharing.errors import DomainError
from packages_app.workflow_filters.models import WorkflowFileFilter, WorkflowFileFilterRule

# Folders never shared, at any depth: workflow logs and caches are not deliverables.
ALWAYS_EXCLUDED_FOLDERS = frozenset({"logs", "cache"})


def in_excluded_folder(relative_path: str) -> bool:
    return any(part in ALWAYS_EXCLUDED_FOLDERS for part in relative_path.split("/")[:-1])


@dataclass(frozen=True)
class CompiledFilter:
    workflow_name: str
    includes: tuple[re.Pattern[str], ...]
    excludes: tuple[re.Pattern[str], ...]

    def shares(self, relative_path: str) -> bool:
        """Include rules (if any) must match the whole path; no exclude rule may."""
        if self.includes and not any(p.fullmatch(relative_path) for p in self.includes):
            return False
        return not any(p.fullmatch(relative_path) for p in self.excludes)


class FilterSet:
    """Enabled filters by workflow name: exact names first, then the longest `prefix*` match."""

    def __init__(self, filters: list[CompiledFilter]) -> None:
        self.exact = {f.workflow_name: f for f in filters if not f.workflow_name.endswith("*")}
        self.prefixed = sorted(
            (f for f in filters if f.workflow_name.endswith("*")),
            key=lambda f: len(f.workflow_name),
            reverse=True,
        )

    def for_workflow(self, workflow_name: str) -> CompiledFilter | None:
        found = self.exact.get(workflow_name)
        if found is not None:
            return found
        for candidate in self.prefixed:
            if workflow_name.startswith(candidate.workflow_name[:-1]):
                return candidate
        return None

    def knows(self, workflow_name: str) -> bool:
        return self.for_workflow(workflow_name) is not None


def filter_set_load(*, include_disabled: bool = False) -> FilterSet:
    """Every enabled filter with its compiled rules (two queries)."""
    filters = WorkflowFileFilter.objects.all()
    if not include_disabled:
        filters = filters.filter(enabled=True)
    rules: dict[int, list[WorkflowFileFilterRule]] = {}
    for rule in WorkflowFileFilterRule.objects.filter(filter__in=filters).order_by("pk"):
        rules.setdefault(rule.filter_id, []).append(rule)
    compiled = []
    for workflow_filter in filters:
        includes: list[re.Pattern[str]] = []
        excludes: list[re.Pattern[str]] = []
        for rule in rules.get(workflow_filter.pk, []):
            try:
                pattern = re.compile(rule.pattern)
            except re.error as exc:
                # Admin forms validate patterns; this guards rows written some other way.
                raise DomainError(
                    f"Workflow file filter {workflow_filter.workflow_name!r} has an invalid "
                    f"pattern {rule.pattern!r}: {exc}. Fix it in the admin."
                ) from None
            (includes if rule.action == WorkflowFileFilterRule.Action.INCLUDE else excludes).append(
                pattern
            )
        compiled.append(
            CompiledFilter(workflow_filter.workflow_name, tuple(includes), tuple(excludes))
        )
    return FilterSet(compiled)


def file_is_shared(
    relative_path: str, *, workflow_filter: CompiledFilter | None, use_workflow_filters: bool
) -> bool:
    """The rule of SPEC §5: never logs/ or cache/; with filters, only the workflow's deliverables
    (a workflow without a filter shares everything else)."""
    if in_excluded_folder(relative_path):
        return False
    if not use_workflow_filters or workflow_filter is None:
        return True
    return workflow_filter.shares(relative_path)
