"""Received platform events: one row per message taken from the events queue."""

from django.db import models


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
