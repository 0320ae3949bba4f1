"""Automatic sharing: rules and the shares they produce (events and notifications: their areas).

One rule and one instrument run give at most one `AutoShare` (unique constraint), and an
`AutoShare` holds at most one package and one push job (one-to-one fields), so duplicate events
and double approval clicks cannot create a second package or push.
"""

from django.conf import settings
from django.db import models

from automation_app.events.models import EventStatus, ReceivedEvent
from automation_app.notifications.models import (
    Notification,
    NotificationChannel,
    NotificationKind,
    NotificationStatus,
)
from datasharing.ids import new_id

# Models of the areas, re-exported so Django finds them in `automation_app.models`.
__all__ = [
    "AutoShare",
    "AutoShareRule",
    "AutoShareStatus",
    "DecisionChannel",
    "EventStatus",
    "Notification",
    "NotificationChannel",
    "NotificationKind",
    "NotificationStatus",
    "ReceivedEvent",
    "Trigger",
    "new_auto_share_id",
]


def new_auto_share_id() -> str:
    return new_id("ash")


class AutoShareRule(models.Model):
    """A rule: every new instrument run with libraries of `project_ids` is packaged (the given data
    types) and pushed to `share_destination`, after approval when `require_approval`. Its owner is
    `created_by`: they or an admin change or delete it."""

    job_name = models.CharField(max_length=100, unique=True)
    enabled = models.BooleanField(default=True, db_index=True)
    project_ids = models.JSONField(default=list, help_text="projectIdList: LIMS project ids.")
    data_types = models.JSONField(
        default=list, help_text='dataTypeList: any of "fastq", "secondaryAnalysis".'
    )
    secondary_analysis_types = models.JSONField(
        default=list,
        blank=True,
        help_text="secondaryAnalysisTypeList: workflow names; empty means every workflow type.",
    )
    share_destination = models.CharField(
        max_length=1100, help_text="s3://bucket/prefix/ or icav2://project/path/"
    )
    require_approval = models.BooleanField(default=True)
    slack_channel = models.CharField(
        max_length=100, blank=True, help_text="Slack channel id for approval and outcome messages."
    )
    notify_emails = models.JSONField(default=list, blank=True)
    slack_approvers = models.JSONField(
        default=list,
        blank=True,
        help_text="Slack user ids allowed to press Push / Reject; empty: the rule cannot be "
        "approved from Slack.",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="auto_share_rules",
    )
    # Every change was judged against the editor's right to push to the destination; automatic
    # pushes are judged for the last editor (None: the allow-list alone). docs/permissions.md
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Who created or last changed the rule: automatic pushes are judged for them.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["job_name"]

    def __str__(self) -> str:
        return self.job_name


class AutoShareStatus(models.TextChoices):
    PACKAGING = "PACKAGING"
    AWAITING_APPROVAL = "AWAITING_APPROVAL"
    PUSHING = "PUSHING"
    SUCCEEDED = "SUCCEEDED"
    REJECTED = "REJECTED"
    FAILED = "FAILED"


class Trigger(models.TextChoices):
    EVENT = "EVENT"
    RECONCILIATION = "RECONCILIATION"
    MANUAL = "MANUAL"


class DecisionChannel(models.TextChoices):
    AUTOMATIC = "AUTOMATIC"
    SLACK = "SLACK"
    API = "API"
    ADMIN = "ADMIN"


class AutoShare(models.Model):
    """What one rule did for one instrument run."""

    id = models.CharField(
        primary_key=True, max_length=40, default=new_auto_share_id, editable=False
    )
    rule = models.ForeignKey(AutoShareRule, on_delete=models.PROTECT, related_name="shares")
    run = models.ForeignKey(
        "catalog_app.SequencingRun", on_delete=models.PROTECT, related_name="auto_shares"
    )
    status = models.CharField(
        max_length=20,
        choices=AutoShareStatus.choices,
        default=AutoShareStatus.PACKAGING,
        db_index=True,
    )
    trigger = models.CharField(max_length=16, choices=Trigger.choices, default=Trigger.EVENT)
    package = models.OneToOneField(
        "packages_app.Package",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="auto_share",
    )
    push_job = models.OneToOneField(
        "sharing_app.PushJob",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="auto_share",
    )
    share_destination = models.CharField(max_length=1100, help_text="The rule's, when created.")
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="auto_share_decisions",
    )
    decided_by_slack_user = models.CharField(max_length=64, blank=True)
    decided_via = models.CharField(max_length=16, choices=DecisionChannel.choices, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_comment = models.CharField(
        max_length=1000, blank=True, help_text="What the approver said when approving or rejecting."
    )
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["rule", "run"], name="auto_share_one_per_rule_and_run")
        ]
        permissions = [("approve_autoshare", "Can approve or reject automatic shares")]

    def __str__(self) -> str:
        return f"{self.rule.job_name} / {self.run.instrument_run_id}"
