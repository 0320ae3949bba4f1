"""Notifications about automatic shares: one row per message to one target."""

from django.db import models


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

    share = models.ForeignKey(
        "automation_app.AutoShare", on_delete=models.CASCADE, related_name="notifications"
    )
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
