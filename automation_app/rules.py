"""Auto-share rules: validation, create / update / delete, and the predecessor's JSON job format.

A rule is given as a mapping with the API's camelCase keys (`jobName`, `projectIdList`, ...;
snake_case is accepted too, as the API parser hands it over). Every problem is reported at once
in one 400 DomainError naming the fields.

Who may (docs/permissions.md): a rule is changed or deleted by its creator or an admin (403
naming the owner). Every creation and every change, of any field, is judged against the editor's
right to push to the rule's destination (the destination policy, 403): a rule is a standing
order to push there, so whoever shapes it must be allowed to push there themselves; switching
`requireApproval` off or enabling a rule that runs without approval is such a change. The editor
is recorded as `changed_by`, and automatic pushes are judged for that user when they start.
`user=None` is the command line without a user: ownership does not refuse it, the allow-list
alone judges its destinations, and its rules record no editor.
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
from datasharing.errors import Conflict, DomainError, Forbidden
from datasharing.names import camel, fields_by_snake_name, snake
from datasharing.ownership import require_owner_or_admin, user_owns_or_administers
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


def auto_share_rule_save(*, rule: AutoShareRule, user: User | None) -> AutoShareRule:
    """Save a rule the caller validated (`auto_share_rule_validate`) for `user`, recording them
    as its creator when it is new and as its last editor (`changed_by`: automatic pushes are
    judged for them). 400 when the job name is taken meanwhile."""
    editor = user if getattr(user, "pk", None) else None
    if rule.pk is None:
        rule.created_by = editor
    rule.changed_by = editor
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


def auto_share_rule_may_change(*, rule: AutoShareRule, user: User | None) -> bool:
    """Its creator, an admin, or the system (None) may change or delete a rule."""
    return user_owns_or_administers(user=user, owner_id=rule.created_by_id)


def _require_may_change(rule: AutoShareRule, user: User | None, action: str) -> None:
    creator = rule.created_by
    require_owner_or_admin(
        user=user,
        owner_id=rule.created_by_id,
        owner_name=creator.get_username() if creator is not None else "",
        thing=f"Auto-share rule {rule.job_name!r}",
        made="created",
        action=action,
    )


def _validated(
    values: Mapping[str, Any], rule: AutoShareRule | None
) -> tuple[dict[str, Any], AutoShareRule]:
    """The model field values `values` sets, and the rule as it would be (unsaved); a 400
    DomainError naming every problem."""
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
    return cleaned, candidate


def _runs_without_approval_from_now(rule: AutoShareRule, candidate: AutoShareRule) -> bool:
    """The change switches `requireApproval` off on an enabled rule, or enables a rule without
    approval."""
    return (
        candidate.enabled
        and not candidate.require_approval
        and (rule.require_approval or not rule.enabled)
    )


def _require_destination_rights(
    *, rule: AutoShareRule | None, candidate: AutoShareRule, user: User | None
) -> None:
    """403 unless `user` may push to the destination the rule will have (whichever fields
    change). `rule` is the stored rule (None: a new one), `candidate` the rule as it would be."""
    destination = parse_destination(candidate.share_destination)
    try:
        require_destination_allowed(destination, user=user)
    except Forbidden as exc:
        if rule is None:
            raise
        if _runs_without_approval_from_now(rule, candidate):
            reason = (
                "switching requireApproval off, or enabling a rule that runs without approval, "
                "needs the right to push there directly"
            )
        else:
            reason = "every change to a rule needs the right to push to its destination"
        raise Forbidden(
            f"Auto-share rule {rule.job_name!r} pushes to {destination.uri}: {reason}. "
            f"{exc.message}",
            details={"shareDestination": destination.uri},
        ) from None


def auto_share_rule_validate(
    *, values: Mapping[str, Any], rule: AutoShareRule | None, user: User | None
) -> dict[str, Any]:
    """The model field values `values` sets on `rule` (None: a new rule), after the checks every
    creation and change passes: `user` may change the rule (403 naming its creator), the values
    are valid (400 naming every problem), and `user` may push to the rule's destination (403).
    Changes nothing."""
    if rule is not None:
        _require_may_change(rule, user, "change")
    cleaned, candidate = _validated(values, rule)
    if rule is None or not _only_restricts(rule, cleaned):
        _require_destination_rights(rule=rule, candidate=candidate, user=user)
    return cleaned


def _only_restricts(rule: AutoShareRule, cleaned: Mapping[str, Any]) -> bool:
    """The change only disables the rule or turns approval on (or sets what is already set):
    it can only make the rule do less, so its owner may make it without the right to push to
    its destination (an owner who lost that right can still switch their rule off)."""
    if not set(cleaned) <= {"enabled", "require_approval"}:
        return False
    enables = cleaned.get("enabled", rule.enabled) and not rule.enabled
    drops_approval = rule.require_approval and not cleaned.get(
        "require_approval", rule.require_approval
    )
    return not enables and not drops_approval


def auto_share_rule_create(*, values: Mapping[str, Any], user: User | None) -> AutoShareRule:
    """Validate (400 naming every problem; 403 when `user` may not push to the destination)
    and create a rule; `user` is recorded as its creator and editor."""
    cleaned = auto_share_rule_validate(values=values, rule=None, user=user)
    rule = auto_share_rule_save(rule=AutoShareRule(**cleaned), user=user)
    logger.info("auto-share rule %s created by %s", rule.job_name, _who(user))
    return rule


def auto_share_rule_update(
    *, rule: AutoShareRule, values: Mapping[str, Any], user: User | None
) -> AutoShareRule:
    """Change the given fields (PATCH): its creator or an admin (403), valid values (400), and
    `user` may push to the destination the rule then has (403), whichever fields change. Shares
    already made keep the destination they were created with."""
    cleaned = auto_share_rule_validate(values=values, rule=rule, user=user)
    for field, value in cleaned.items():
        setattr(rule, field, value)
    auto_share_rule_save(rule=rule, user=user)
    logger.info("auto-share rule %s updated by %s", rule.job_name, _who(user))
    return rule


def auto_share_rule_delete(*, rule: AutoShareRule, user: User | None) -> None:
    """Delete a rule that has made no shares yet: its creator or an admin (403). A rule with
    shares keeps its history (409: disable it instead)."""
    _require_may_change(rule, user, "delete")
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
    index and the field: `[2].dataTypeList: ...`. What is created or changed passes the API's
    checks for `user` (None: the command line, see the module's docstring): a changed rule must be
    theirs or they an admin, and they must be allowed to push to its destination. A job that
    changes nothing is not a change: it needs neither.
    """
    if not isinstance(jobs, list):
        raise DomainError("The job file must hold a JSON array of job objects.")
    problems: list[str] = []
    plans: list[tuple[AutoShareRule | None, dict[str, Any]]] = []
    first_index: dict[str, int] = {}
    existing = {rule.job_name: rule for rule in AutoShareRule.objects.select_related("created_by")}
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
            changes = _import_job_changes(job, rule, user)
        except DomainError as exc:
            problems.extend(_at(index, problem) for problem in _problems_of(exc))
            continue
        plans.append((rule, changes))
    _raise(problems, prefix="Invalid job file")
    counts = {"created": 0, "updated": 0, "unchanged": 0}
    with transaction.atomic():
        for rule, changes in plans:
            if rule is None:
                auto_share_rule_save(rule=AutoShareRule(**changes), user=user)
                counts["created"] += 1
            elif changes:
                for field, value in changes.items():
                    setattr(rule, field, value)
                auto_share_rule_save(rule=rule, user=user)
                counts["updated"] += 1
            else:
                counts["unchanged"] += 1
    logger.info("auto-share rules imported by %s: %s", _who(user), counts)
    return counts


def _import_job_changes(
    job: Mapping[str, Any], rule: AutoShareRule | None, user: User | None
) -> dict[str, Any]:
    """The fields one job sets on a new rule, or changes on `rule` (empty: none); DomainError
    (400 problems, or 403) as `auto_share_rule_validate` raises them."""
    cleaned, candidate = _validated(job, rule)
    if rule is not None:
        cleaned = {f: v for f, v in cleaned.items() if getattr(rule, f) != v}
        if not cleaned:
            return cleaned
        _require_may_change(rule, user, "change")
    _require_destination_rights(rule=rule, candidate=candidate, user=user)
    return cleaned


def _problems_of(exc: DomainError) -> list[str]:
    """The problems of a 400, or one problem for a 403: the destination policy's names the field;
    ownership's does not."""
    if isinstance(exc.details, dict) and "problems" in exc.details:
        return list(exc.details["problems"])
    if isinstance(exc.details, dict) and "owner" in exc.details:
        return [exc.message]
    return [f"shareDestination: {exc.message}"]


def _at(index: int, problem: str) -> str:
    """`[2].dataTypeList: ...` when the problem names a field, else `[2]: ...`."""
    if problem.split(" ", 1)[0].rstrip(":") in RULE_FIELDS:
        return f"[{index}].{problem}"
    return f"[{index}]: {problem}"
