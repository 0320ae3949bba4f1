"""Admin-managed allowed destinations (in addition to SHARE_ALLOWED_DESTINATIONS)."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from datasharing.errors import DomainError
from sharing_app.destinations.destination import parse_destination
from sharing_app.destinations.overlap import destination_overlap_problem


class AllowedDestination(models.Model):
    """A destination prefix curators may push to (in addition to SHARE_ALLOWED_DESTINATIONS)."""

    prefix = models.CharField(
        max_length=1024,
        unique=True,
        help_text="s3://bucket/prefix/ or icav2://<project id or name>/<folder>/ (pushes to this "
        "place or below it are allowed).",
    )
    description = models.CharField(max_length=255, blank=True)
    enabled = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["prefix"]

    def __str__(self) -> str:
        return self.prefix

    def clean(self) -> None:
        try:
            destination = parse_destination(self.prefix)
        except DomainError as exc:
            raise ValidationError({"prefix": exc.message}) from None
        self.prefix = destination.uri
        problem = destination_overlap_problem(destination)
        if problem:
            raise ValidationError({"prefix": problem})
