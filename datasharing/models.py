"""API tokens, stored as digests: the token itself is shown once, when it is made.

A token is `dsk_` + 43 URL-safe characters (256 random bits). The database keeps its SHA-256
digest (enough for a random secret of that size; nothing to brute-force) and its first 12
characters, so people can tell their tokens apart in the admin and in logs without the secret.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class ApiToken(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100, blank=True, help_text="What the token is for.")
    key_prefix = models.CharField(max_length=12, help_text="The token's first characters.")
    key_digest = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(
        null=True, blank=True, help_text="Empty: the token does not expire."
    )
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "API token"

    def __str__(self) -> str:
        return f"{self.key_prefix}… ({self.user})"

    @property
    def is_active(self) -> bool:
        now = timezone.now()
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)


class WorkerHeartbeat(models.Model):
    """The last heartbeat of one Celery worker (by node name), written by the worker's main
    process (datasharing/worker/heartbeat.py) so that any process can tell whether the worker
    still executes tasks (datasharing/worker/liveness.py)."""

    hostname = models.CharField(max_length=255, unique=True, help_text="Celery node name.")
    pid = models.PositiveIntegerField()
    pool = models.CharField(max_length=50)
    concurrency = models.PositiveIntegerField()
    started_at = models.DateTimeField()
    stamped_at = models.DateTimeField()
    canary_ran_at = models.DateTimeField(
        null=True, blank=True, help_text="When the pool last started a canary task."
    )
    active_tasks = models.PositiveIntegerField()
    processed_tasks = models.PositiveBigIntegerField()
    last_progress_at = models.DateTimeField()

    class Meta:
        ordering = ["hostname"]

    def __str__(self) -> str:
        return f"{self.hostname} (pid {self.pid})"
