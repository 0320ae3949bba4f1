"""Admin-managed allowed catalogue sources (in addition to CATALOG_ALLOWED_SOURCES)."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from catalog_app.sources.source import source_prefix_parse
from datasharing.errors import DomainError


class AllowedSource(models.Model):
    """An S3 prefix the catalog may take data from: importers, `sync-storage` and events accept
    objects in it, and packages may hold them (see `catalog_app.sources.policy`)."""

    prefix = models.CharField(
        max_length=1024,
        unique=True,
        help_text="s3://bucket/prefix/ or s3://bucket/ (objects at this place or below it may be "
        "catalogued and packaged). Never the artifact bucket.",
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
            self.prefix = source_prefix_parse(self.prefix).uri
        except DomainError as exc:
            raise ValidationError({"prefix": exc.message}) from None
