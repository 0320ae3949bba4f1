"""Workflow file filters: which files of a workflow's output are its deliverables (data, edited
in the admin)."""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.db import models

WORKFLOW_NAME_PATTERN_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]{0,98}\*?$")


def validate_workflow_name_pattern(value: str) -> None:
    if not WORKFLOW_NAME_PATTERN_RE.fullmatch(value or ""):
        raise ValidationError(
            "Enter a workflow name (letters, digits, '_', '.', '+', '-'), optionally ending in '*' "
            "to match every workflow name starting with the part before it."
        )


def validate_file_pattern(value: str) -> None:
    try:
        compiled = re.compile(value)
    except re.error as exc:
        raise ValidationError(f"Not a valid regular expression: {exc}") from None
    if compiled.fullmatch(""):
        raise ValidationError("The pattern matches an empty path; make it match file paths.")


class WorkflowFileFilter(models.Model):
    """Which files of a workflow's output are its deliverables (used with `useWorkflowFilters`).

    `workflow_name` is an exact name (`tumor-normal`) or a prefix ending in `*`
    (`oncoanalyser-*`); an exact name wins over a prefix, a longer prefix over a shorter one.
    Patterns of the rules are regular expressions matched against the whole path below the run's
    output prefix (anchored at both ends). A file is shared when it matches an include rule (or
    the filter has none) and no exclude rule. `logs/` and `cache/` folders are never shared.
    """

    workflow_name = models.CharField(
        max_length=100, unique=True, validators=[validate_workflow_name_pattern]
    )
    description = models.TextField(blank=True)
    enabled = models.BooleanField(
        default=True,
        help_text="Disabled filters are ignored (the workflow's files are all shared).",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["workflow_name"]

    def __str__(self) -> str:
        return self.workflow_name


class WorkflowFileFilterRule(models.Model):
    class Action(models.TextChoices):
        INCLUDE = "include"
        EXCLUDE = "exclude"

    filter = models.ForeignKey(WorkflowFileFilter, on_delete=models.CASCADE, related_name="rules")
    action = models.CharField(max_length=8, choices=Action.choices, default=Action.INCLUDE)
    pattern = models.CharField(
        max_length=500,
        validators=[validate_file_pattern],
        help_text="Regular expression matched against the whole path below the output prefix, "
        r"e.g. '.*\.bam' or 'Results/.*'.",
    )
    description = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["filter", "action", "pattern"]
        constraints = [
            models.UniqueConstraint(
                fields=["filter", "action", "pattern"], name="uniq_workflow_filter_rule"
            ),
            models.CheckConstraint(
                condition=models.Q(action__in=["include", "exclude"]),
                name="workflow_filter_rule_action_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.action} {self.pattern}"
