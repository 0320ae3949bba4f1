"""Automatic sharing: rules, the shares they produce, received events, approvals, notifications.

One rule and one instrument run give at most one `AutoShare` (unique constraint), and an
`AutoShare` holds at most one package and one push job (one-to-one fields), so duplicate events
and double approval clicks cannot create a second package or push.
"""

from django.conf import settings
from django.db import models

from datasharing.ids import new_id


def new_auto_share_id() -> str:
    return new_id("ash")


class AutoShareRule(models.Model):
    """A rule: every new instrument run with libraries of `project_ids` is packaged (the given data
    types) and pushed to `share_destination`, after approval when `require_approval`."""

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
    destination_set_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Who last set the destination: automatic pushes are allowed there as for them.",
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


class EventStatus(models.TextChoices):
    PROCESSED = "PROCESSED"
    IGNORED = "IGNORED"
    MALFORMED = "MALFORMED"


class ReceivedEvent(models.Model):
    """One message taken from the events queue. `event_id` (the EventBridge id, else the SQS
    message id) is unique: a redelivered message is recognised and not processed twice."""

    event_id = models.CharField(max_length=255, unique=True)
    message_id = models.CharField(max_length=255, blank=True)
    detail_type = models.CharField(max_length=255, blank=True, db_index=True)
    source = models.CharField(max_length=255, blank=True)
    body = models.TextField(help_text="The message body as received (truncated if huge).")
    status = models.CharField(max_length=12, choices=EventStatus.choices, db_index=True)
    error = models.TextField(blank=True)
    outcome = models.JSONField(default=dict, blank=True)
    received_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-received_at", "-id"]

    def __str__(self) -> str:
        return f"{self.detail_type or '?'} {self.event_id}"


class NotificationKind(models.TextChoices):
    APPROVAL_REQUEST = "APPROVAL_REQUEST"
    PUSH_STARTED = "PUSH_STARTED"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    REJECTED = "REJECTED"


class NotificationChannel(models.TextChoices):
    SLACK = "SLACK"
    EMAIL = "EMAIL"


class NotificationStatus(models.TextChoices):
    PENDING = "PENDING"
    SENT = "SENT"
    FAILED = "FAILED"


class Notification(models.Model):
    """One message about an automatic share to one target. Unique per (share, kind, channel,
    target) so a retried task or a duplicate event never sends the same message twice."""

    share = models.ForeignKey(AutoShare, on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(max_length=20, choices=NotificationKind.choices)
    channel = models.CharField(max_length=8, choices=NotificationChannel.choices)
    target = models.CharField(max_length=255, help_text="Slack channel id or email address.")
    status = models.CharField(
        max_length=8, choices=NotificationStatus.choices, default=NotificationStatus.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    slack_ts = models.CharField(max_length=64, blank=True, help_text="Slack message timestamp.")
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["share", "kind", "channel", "target"], name="notification_once_per_target"
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.channel} {self.target}"
