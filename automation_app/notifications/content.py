"""What notifications about an automatic share say: Slack blocks and email bodies.

Everything a catalog, a rule author or a user typed (rule and package names, library ids,
destinations, errors, comments) is escaped for where it goes: Slack's `&`, `<`, `>` (so a library
called `<!channel>` notifies nobody) and HTML in emails (autoescaping templates).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.template.loader import render_to_string
from django.urls import reverse

from automation_app.models import AutoShare, AutoShareStatus, DecisionChannel
from automation_app.notifications.models import NotificationKind
from automation_app.notifications.slack import slack_escape
from packages_app.models import PackageLibrary
from packages_app.report.formatting import human_size

PUSH_ACTION_ID = "auto_share_push"
REJECT_ACTION_ID = "auto_share_reject"
DECISION_BLOCK_ID = "auto_share_decision"
LIBRARIES_SHOWN = 10
_SLACK_USER_ID = re.compile(r"^[A-Z0-9]{2,32}$")

HEADLINES = {
    NotificationKind.APPROVAL_REQUEST: "Approval needed",
    NotificationKind.PUSH_STARTED: "Push started",
    NotificationKind.SUCCEEDED: "Push succeeded",
    NotificationKind.FAILED: "Automatic share failed",
    NotificationKind.REJECTED: "Automatic share rejected",
}


def public_url(path: str) -> str:
    return settings.PUBLIC_BASE_URL.rstrip("/") + path


@dataclass(frozen=True)
class ShareSummary:
    """The facts every message about one share shows, read once."""

    share_id: str
    status: str
    rule_name: str
    instrument_run_id: str
    destination: str
    package_id: str
    package_name: str
    file_count: int
    total_size: str
    library_ids: list[str]
    library_count: int
    report_url: str
    approve_api_url: str
    reject_api_url: str
    admin_url: str
    push_job_id: str
    decided_by: str  # "ada-admin" or "Slack user U123"; empty before a decision
    decided_by_slack_user: str
    decided_via: str
    decided_at: str
    comment: str
    error: str


def share_summary(*, share: AutoShare) -> ShareSummary:
    """Caller passes a share with `rule`, `run`, `package` and `decided_by` loaded (or loadable)."""
    package = share.package
    libraries = (
        list(
            PackageLibrary.objects.filter(package=package)
            .order_by("library_id")
            .values_list("library_id", flat=True)[:LIBRARIES_SHOWN]
        )
        if package is not None
        else []
    )
    decided_by = ""
    if share.decided_by is not None:
        decided_by = share.decided_by.get_username()
    elif share.decided_by_slack_user:
        decided_by = f"Slack user {share.decided_by_slack_user}"
    share_path = f"/api/v1/auto-share/shares/{share.id}"
    return ShareSummary(
        share_id=share.id,
        status=share.status,
        rule_name=share.rule.job_name,
        instrument_run_id=share.run.instrument_run_id,
        destination=share.share_destination,
        package_id=package.id if package is not None else "",
        package_name=package.package_name if package is not None else "",
        file_count=package.file_count if package is not None else 0,
        total_size=human_size(package.total_bytes) if package is not None else "",
        library_ids=libraries,
        library_count=package.library_count if package is not None else 0,
        report_url=(
            public_url(reverse("package-report", args=[package.id])) if package is not None else ""
        ),
        approve_api_url=public_url(share_path + ":approve"),
        reject_api_url=public_url(share_path + ":reject"),
        admin_url=public_url(
            reverse("admin:index") + f"automation_app/autoshare/{share.id}/change/"
        ),
        push_job_id=share.push_job_id or "",
        decided_by=decided_by,
        decided_by_slack_user=share.decided_by_slack_user,
        decided_via=share.decided_via,
        decided_at=share.decided_at.strftime("%Y-%m-%d %H:%M UTC") if share.decided_at else "",
        comment=share.decision_comment,
        error=share.error,
    )


def decision_text(summary: ShareSummary, *, slack: bool = False) -> str:
    """One line about what happened to the approval request: plain text, or Slack mrkdwn with
    typed values escaped and a Slack decider mentioned."""

    def escape(value: str) -> str:
        return slack_escape(value) if slack else value

    if summary.status == AutoShareStatus.AWAITING_APPROVAL:
        return "Waiting for approval."
    who = _slack_who(summary) if slack else (summary.decided_by or "someone")
    via = f" via {summary.decided_via.lower()}" if summary.decided_via else ""
    when = f" at {summary.decided_at}" if summary.decided_at else ""
    if summary.status == AutoShareStatus.REJECTED:
        line = f"Rejected by {who}{via}{when}."
    elif summary.decided_via and summary.decided_via != DecisionChannel.AUTOMATIC:
        line = f"Approved by {who}{via}{when}."
    else:
        line = f"No longer waiting: the share is {summary.status}."
    if summary.push_job_id:
        line += f" Push {summary.push_job_id}."
    if summary.status == AutoShareStatus.FAILED and summary.error:
        line += f" {escape(summary.error)}"
    if summary.comment:
        line += f" Comment: {escape(summary.comment)}"
    return line


def _slack_who(summary: ShareSummary) -> str:
    """A mention of a Slack decider (the id is checked: a mention is markup), else the escaped
    user name."""
    if (
        summary.decided_via == DecisionChannel.SLACK
        and summary.decided_by_slack_user
        and _SLACK_USER_ID.match(summary.decided_by_slack_user)
    ):
        return f"<@{summary.decided_by_slack_user}>"
    return slack_escape(summary.decided_by or "someone")


def _slack_fields(summary: ShareSummary) -> list[dict[str, str]]:
    libraries = ", ".join(summary.library_ids)
    if summary.library_count > len(summary.library_ids):
        libraries += f" and {summary.library_count - len(summary.library_ids)} more"
    rows = [
        ("Rule", summary.rule_name),
        ("Run", summary.instrument_run_id),
        ("Package", f"{summary.package_name} ({summary.package_id})"),
        ("Files", f"{summary.file_count:,} ({summary.total_size})"),
        ("Destination", summary.destination),
        ("Libraries", libraries or "none"),
    ]
    # Slack limits a field's text to 2,000 characters.
    return [
        {"type": "mrkdwn", "text": f"*{label}*\n{slack_escape(value)[:1900]}"}
        for label, value in rows
    ]


def slack_message(*, summary: ShareSummary, kind: str) -> tuple[str, list[dict[str, Any]]]:
    """Fallback text and blocks of a Slack message. An approval request shows Push / Reject
    buttons while the share awaits approval, and who decided once it does not."""
    headline = HEADLINES[NotificationKind(kind)]
    text = f"{headline}: {summary.rule_name} / {summary.instrument_run_id} -> {summary.destination}"
    blocks: list[dict[str, Any]] = [
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": f"*{headline}*: automatic share `{summary.share_id}`",
            },
        },
        {"type": "section", "fields": _slack_fields(summary)},
    ]
    if summary.report_url:
        blocks.append(
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": f"<{slack_escape(summary.report_url)}|Package report>",
                },
            }
        )
    if kind == NotificationKind.APPROVAL_REQUEST:
        if summary.status == AutoShareStatus.AWAITING_APPROVAL:
            blocks.append(_decision_buttons(summary.share_id))
        else:
            line = decision_text(summary, slack=True)
            blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": line}]})
            text = f"{text} ({decision_text(summary)})"
    elif kind in (NotificationKind.FAILED, NotificationKind.REJECTED) and (
        summary.error or summary.comment or summary.decided_by
    ):
        blocks.append(
            {
                "type": "context",
                "elements": [{"type": "mrkdwn", "text": decision_text(summary, slack=True)}],
            }
        )
    elif kind in (NotificationKind.PUSH_STARTED, NotificationKind.SUCCEEDED) and (
        summary.push_job_id
    ):
        blocks.append(
            {
                "type": "context",
                "elements": [{"type": "mrkdwn", "text": f"Push `{summary.push_job_id}`"}],
            }
        )
    return text[:3000], blocks


def _decision_buttons(share_id: str) -> dict[str, Any]:
    return {
        "type": "actions",
        "block_id": DECISION_BLOCK_ID,
        "elements": [
            {
                "type": "button",
                "action_id": PUSH_ACTION_ID,
                "text": {"type": "plain_text", "text": "Push"},
                "style": "primary",
                "value": share_id,
                "confirm": {
                    "title": {"type": "plain_text", "text": "Push this package?"},
                    "text": {"type": "mrkdwn", "text": "The files are copied to the destination."},
                    "confirm": {"type": "plain_text", "text": "Push"},
                    "deny": {"type": "plain_text", "text": "Cancel"},
                },
            },
            {
                "type": "button",
                "action_id": REJECT_ACTION_ID,
                "text": {"type": "plain_text", "text": "Reject"},
                "style": "danger",
                "value": share_id,
            },
        ],
    }


def email_message(*, summary: ShareSummary, kind: str) -> tuple[str, str, str]:
    """Subject, plain-text body and HTML body of an email."""
    headline = HEADLINES[NotificationKind(kind)]
    subject = f"[datasharing] {headline}: {summary.rule_name} / {summary.instrument_run_id}"
    # A header never spans lines (Django refuses newlines in a subject).
    subject = " ".join(subject.split())[:250]
    context = {
        "headline": headline,
        "summary": summary,
        "is_approval_request": kind == NotificationKind.APPROVAL_REQUEST,
        "awaiting": summary.status == AutoShareStatus.AWAITING_APPROVAL,
        "decision": decision_text(summary),
        "more_libraries": max(0, summary.library_count - len(summary.library_ids)),
    }
    text = render_to_string("automation_app/notification_email.txt", context)
    html = render_to_string("automation_app/notification_email.html", context)
    return subject, text, html
