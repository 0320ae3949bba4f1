"""Auto-share rules: validation, create / update / delete, and the predecessor's JSON job format.

A rule is given as a mapping with the API's camelCase keys (`jobName`, `projectIdList`, ...;
snake_case is accepted too, as the API parser hands it over). Every problem is reported at once
in one 400 DomainError naming the fields; the destination policy is a 403 judged for the user who
sets the destination (None: the command line, which only the allow-list admits).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

from data_sharing_formats.identifiers import IDENTIFIER_RE, WORKFLOW_NAME_RE
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction

from automation_app.models import AutoShareRule
from datasharing.errors import Conflict, DomainError
from datasharing.names import camel, fields_by_snake_name, snake
from packages_app.models import DataType
from sharing_app.destinations.destination import Destination, parse_destination
from sharing_app.destinations.policy import require_destination_allowed

logger = logging.getLogger(__name__)

JOB_NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,99}$", re.ASCII)
SLACK_ID_RE = re.compile(r"^[A-Z0-9][A-Z0-9_]{1,63}$")
SLACK_CHANNEL_RE = re.compile(r"^[#]?[A-Za-z0-9][A-Za-z0-9_-]{0,79}$")
MAX_LIST_ENTRIES = 1000

# API name (camelCase) -> model field. The order is the export order.
RULE_FIELDS: dict[str, str] = {
    "jobName": "job_name",
    "enabled": "enabled",
    "projectIdList": "project_ids",
    "dataTypeList": "data_types",
    "secondaryAnalysisTypeList": "secondary_analysis_types",
    "shareDestination": "share_destination",
    "requireApproval": "require_approval",
    "slackChannel": "slack_channel",
    "notifyEmails": "notify_emails",
    "slackApprovers": "slack_approvers",
}
REQUIRED_FIELDS = ("jobName", "projectIdList", "dataTypeList", "shareDestination")


def _normalise_keys(values: Mapping[str, Any], problems: list[str]) -> dict[str, Any]:
    """camelCase keys; unknown keys are problems."""
    by_snake = fields_by_snake_name(values, [snake(name) for name in RULE_FIELDS], problems)
    return {camel(key): value for key, value in by_snake.items()}


def _string_list(
    name: str,
    value: Any,
    problems: list[str],
    *,
    pattern: re.Pattern[str] | None = None,
    what: str = "",
    non_empty: bool = False,
) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        problems.append(f"{name} must be a list of strings.")
        return []
    if len(value) > MAX_LIST_ENTRIES:
        problems.append(f"{name} has {len(value)} entries; at most {MAX_LIST_ENTRIES}.")
        return []
    cleaned: list[str] = []
    for item in (item.strip() for item in value):
        if item and item not in cleaned:
            cleaned.append(item)
    if non_empty and not cleaned:
        problems.append(f"{name} must not be empty.")
    elif any(not item.strip() for item in value):
        problems.append(f"{name} must not contain blank entries.")
    if pattern is not None:
        bad = [item for item in cleaned if not pattern.fullmatch(item)]
        if bad:
            problems.append(
                f"{name}: not a valid {what}: {', '.join(repr(b[:60]) for b in bad[:10])}."
            )
    return cleaned


def _bool(name: str, value: Any, problems: list[str]) -> bool:
    if not isinstance(value, bool):
        problems.append(f"{name} must be true or false.")
        return False
    return value


def _validate_field(name: str, value: Any, problems: list[str]) -> Any:
    """The cleaned model value of one field (problems appended when invalid)."""
    if name == "jobName":
        if not isinstance(value, str) or not JOB_NAME_RE.fullmatch(value.strip()):
            problems.append(
                f"jobName {str(value)[:60]!r} is not valid: start with a letter, then letters, "
                "digits, '_', '.' or '-', at most 100 characters."
            )
            return ""
        return value.strip()
    if name in ("enabled", "requireApproval"):
        return _bool(name, value, problems)
    if name == "projectIdList":
        return _string_list(
            name, value, problems, pattern=IDENTIFIER_RE, what="project id", non_empty=True
        )
    if name == "dataTypeList":
        types = _string_list(name, value, problems, non_empty=True)
        valid = [t.value for t in DataType]
        bad = [t for t in types if t not in valid]
        if bad:
            problems.append(
                f"dataTypeList: unknown data type(s) {', '.join(repr(t[:40]) for t in bad)}; "
                f"use {' and/or '.join(repr(v) for v in valid)}."
            )
        return [t for t in valid if t in types]
    if name == "secondaryAnalysisTypeList":
        return _string_list(name, value, problems, pattern=WORKFLOW_NAME_RE, what="workflow name")
    if name == "shareDestination":
        try:
            return parse_destination(value)  # stored as its URI; see auto_share_rule_validate
        except DomainError as exc:
            problems.append(f"shareDestination: {exc.message}")
            return ""
    if name == "slackChannel":
        if not isinstance(value, str) or (value and not SLACK_CHANNEL_RE.fullmatch(value)):
            problems.append(
                f"slackChannel {str(value)[:60]!r} is not a Slack channel id or name "
                "(such as C0123456789)."
            )
            return ""
        return value
    if name == "notifyEmails":
        emails = _string_list(name, value, problems)
        bad = []
        for email in emails:
            try:
                validate_email(email)
            except ValidationError:
                bad.append(email)
        if bad:
            problems.append(
                f"notifyEmails: not a valid email address: {', '.join(repr(b[:80]) for b in bad)}."
            )
        return emails
    if name == "slackApprovers":
        return _string_list(
            name, value, problems, pattern=SLACK_ID_RE, what="Slack user id (such as U0123ABCD)"
        )
    raise AssertionError(name)


def _clean(values: Mapping[str, Any], *, partial: bool) -> tuple[dict[str, Any], list[str]]:
    """Model field values of the fields given, and every problem found."""
    problems: list[str] = []
    given = _normalise_keys(values, problems)
    if not partial:
        missing = [name for name in REQUIRED_FIELDS if given.get(name) in (None, "", [])]
        if missing:
            problems.append(f"Required field(s) missing: {', '.join(missing)}.")
    cleaned: dict[str, Any] = {}
    for name, value in given.items():
        if not partial and name in REQUIRED_FIELDS and value in (None, "", []):
            continue  # reported as missing
        if value is None and name not in (*REQUIRED_FIELDS, "enabled", "requireApproval"):
            value = "" if name == "slackChannel" else []
        cleaned[RULE_FIELDS[name]] = _validate_field(name, value, problems)
    return cleaned, problems


def _check_combination(rule: AutoShareRule, problems: list[str]) -> None:
    if rule.secondary_analysis_types and DataType.SECONDARY_ANALYSIS not in rule.data_types:
        problems.append(
            "Conflicting fields: secondaryAnalysisTypeList is given but dataTypeList does not "
            "include secondaryAnalysis."
        )


def _raise(problems: list[str], prefix: str = "Invalid auto-share rule") -> None:
    if problems:
        raise DomainError(f"{prefix}: " + " ".join(problems), details={"problems": problems})


def auto_share_rule_note_destination_author(rule: AutoShareRule, user: User | None) -> None:
    """Record `user` as who set the destination when the rule is new or its destination changes:
    the destination policy was judged for them, and automatic pushes are judged the same way."""
    if rule.pk is not None:
        stored = AutoShareRule.objects.filter(pk=rule.pk).values_list(
            "share_destination", flat=True
        )
        if stored.first() == rule.share_destination:
            return
    rule.destination_set_by = user if getattr(user, "pk", None) else None


def _save(rule: AutoShareRule, user: User | None) -> AutoShareRule:
    auto_share_rule_note_destination_author(rule, user)
    try:
        with transaction.atomic():
            rule.save()
    except IntegrityError:
        raise DomainError(
            f"An auto-share rule named {rule.job_name!r} already exists.",
            details={"field": "jobName"},
        ) from None
    return rule


def _job_name_taken(job_name: str, *, exclude_pk: int | None) -> bool:
    rules = AutoShareRule.objects.filter(job_name=job_name)
    if exclude_pk is not None:
        rules = rules.exclude(pk=exclude_pk)
    return rules.exists()


def auto_share_rule_validate(
    *, values: Mapping[str, Any], rule: AutoShareRule | None, user: User | None
) -> dict[str, Any]:
    """The model field values `values` sets on `rule` (None: a new rule), or a 400 DomainError
    naming every problem, or 403 when `user` may not push to a new destination. Changes
    nothing."""
    cleaned, problems = _clean(values, partial=rule is not None)
    destination = cleaned.get("share_destination")
    if isinstance(destination, Destination):
        cleaned["share_destination"] = destination.uri
    current = {} if rule is None else {f: getattr(rule, f) for f in RULE_FIELDS.values()}
    candidate = AutoShareRule(**{**current, **cleaned})
    _check_combination(candidate, problems)
    exclude_pk = rule.pk if rule else None
    if "job_name" in cleaned and _job_name_taken(candidate.job_name, exclude_pk=exclude_pk):
        problems.append(f"An auto-share rule named {candidate.job_name!r} already exists.")
    _raise(problems)
    # No problems: a new rule has a destination; an updated one may leave it as it is.
    if isinstance(destination, Destination) and (
        rule is None or destination.uri != rule.share_destination
    ):
        require_destination_allowed(destination, user=user)
    return cleaned


def auto_share_rule_create(*, values: Mapping[str, Any], user: User) -> AutoShareRule:
    """Validate (400 naming every problem; 403 when `user` may not push to the destination)
    and create a rule; `user` is recorded as its author."""
    cleaned = auto_share_rule_validate(values=values, rule=None, user=user)
    rule = AutoShareRule(**cleaned, created_by=user if getattr(user, "pk", None) else None)
    _save(rule, user)
    logger.info("auto-share rule %s created by %s", rule.job_name, _who(user))
    return rule


def auto_share_rule_update(
    *, rule: AutoShareRule, values: Mapping[str, Any], user: User
) -> AutoShareRule:
    """Change the given fields (PATCH). A changed destination is judged against `user`'s
    policy (403). Shares already made keep the destination they were created with."""
    cleaned = auto_share_rule_validate(values=values, rule=rule, user=user)
    for field, value in cleaned.items():
        setattr(rule, field, value)
    _save(rule, user)
    logger.info("auto-share rule %s updated by %s", rule.job_name, _who(user))
    return rule


def auto_share_rule_delete(*, rule: AutoShareRule, user: User) -> None:
    """Delete a rule that has made no shares yet; a rule with shares keeps its history (409:
    disable it instead)."""
    with transaction.atomic():
        locked = AutoShareRule.objects.select_for_update().get(pk=rule.pk)
        count = locked.shares.count()
        if count:
            raise Conflict(
                f"Auto-share rule {rule.job_name!r} has {count} automatic share(s) and is kept "
                "as their history; disable it instead (PATCH enabled=false).",
            )
        locked.delete()
    logger.info("auto-share rule %s deleted by %s", rule.job_name, _who(user))


def _who(user: User | None) -> str:
    return getattr(user, "username", "") or "the system"


# --- The predecessor's job file -------------------------------------------------------------------


def auto_share_rule_as_job(rule: AutoShareRule) -> dict[str, Any]:
    """One element of the job file (and of `export_auto_jobs`)."""
    return {name: getattr(rule, field) for name, field in RULE_FIELDS.items()}


def auto_share_rules_export() -> list[dict[str, Any]]:
    return [auto_share_rule_as_job(rule) for rule in AutoShareRule.objects.order_by("job_name")]


def auto_share_rules_import(*, jobs: Any, user: User | None = None) -> dict[str, int]:
    """Create or update rules by `jobName` from the predecessor's JSON array; all or nothing.

    A job that names an existing rule changes only the fields it gives. Errors name the array
    index and the field: `[2].dataTypeList: ...`. The destination policy is judged for `user`
    (None: only allow-listed destinations).
    """
    if not isinstance(jobs, list):
        raise DomainError("The job file must hold a JSON array of job objects.")
    problems: list[str] = []
    plans: list[tuple[AutoShareRule | None, dict[str, Any]]] = []
    first_index: dict[str, int] = {}
    existing = {rule.job_name: rule for rule in AutoShareRule.objects.all()}
    for index, job in enumerate(jobs):
        if not isinstance(job, dict):
            problems.append(f"[{index}]: must be an object.")
            continue
        name = job.get("jobName")
        if isinstance(name, str):
            if name in first_index:
                problems.append(
                    f"[{index}].jobName: {name!r} is also used by element [{first_index[name]}]."
                )
                continue
            first_index[name] = index
        rule = existing.get(name) if isinstance(name, str) else None
        try:
            cleaned = auto_share_rule_validate(values=job, rule=rule, user=user)
        except DomainError as exc:
            if isinstance(exc.details, dict) and "problems" in exc.details:
                job_problems = list(exc.details["problems"])
            else:
                job_problems = [f"shareDestination: {exc.message}"]
            problems.extend(_at(index, problem) for problem in job_problems)
            continue
        plans.append((rule, cleaned))
    _raise(problems, prefix="Invalid job file")
    counts = {"created": 0, "updated": 0, "unchanged": 0}
    with transaction.atomic():
        for rule, cleaned in plans:
            if rule is None:
                _save(
                    AutoShareRule(
                        **cleaned, created_by=user if getattr(user, "pk", None) else None
                    ),
                    user,
                )
                counts["created"] += 1
                continue
            changed = {f: v for f, v in cleaned.items() if getattr(rule, f) != v}
            if not changed:
                counts["unchanged"] += 1
                continue
            for field, value in changed.items():
                setattr(rule, field, value)
            _save(rule, user)
            counts["updated"] += 1
    logger.info("auto-share rules imported by %s: %s", _who(user), counts)
    return counts


def _at(index: int, problem: str) -> str:
    """`[2].dataTypeList: ...` when the problem names a field, else `[2]: ...`."""
    if problem.split(" ", 1)[0].rstrip(":") in RULE_FIELDS:
        return f"[{index}].{problem}"
    return f"[{index}]: {problem}"
