"""Presigns: one row per download script handed out (who, when, what, until when).

Rows are an audit trail: they outlive the package (no cascade, no database constraint on the
package id) so "who received download URLs for which files" stays answerable after deletion.
The URLs themselves are credentials and are not stored.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from datasharing.ids import new_id


def new_presign_id() -> str:
    return new_id("prs")


class Presign(models.Model):
    id = models.CharField(primary_key=True, max_length=40, default=new_presign_id, editable=False)
    # DO_NOTHING without a database constraint: the audit row keeps the package id after the
    # package is deleted (then `presign.package` raises DoesNotExist; use `package_id`).
    package = models.ForeignKey(
        "packages_app.Package",
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        # Covered by presign_package_idx (package, -created_at).
        db_index=False,
        related_name="presigns",
    )
    package_name = models.CharField(max_length=255)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="presigns",
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    # Lifetime the caller asked for, and the moment the file URLs stop working (earlier than
    # created_at + lifetime when the signing credentials expire first).
    file_url_expiry_seconds = models.PositiveIntegerField()
    file_urls_expire_at = models.DateTimeField()
    script_url_expires_at = models.DateTimeField()
    file_count = models.PositiveIntegerField()
    total_bytes = models.BigIntegerField()
    # The script in the artifact bucket, and its SHA-256 so a copy can be checked against it.
    script_bucket = models.CharField(max_length=63)
    script_key = models.CharField(max_length=1024)
    script_bytes = models.BigIntegerField()
    script_sha256 = models.CharField(max_length=64)
    # "sigv4" (signed locally) or "botocore" (fallback): kept to spot a silent slow path.
    signer = models.CharField(max_length=16)
    duration_ms = models.PositiveIntegerField(help_text="Time to build and store the script.")

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["-created_at", "-id"], name="presign_newest_first_idx"),
            models.Index(fields=["package", "-created_at"], name="presign_package_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(file_urls_expire_at__gt=models.F("created_at")),
                name="presign_expires_after_creation",
            ),
            models.CheckConstraint(
                condition=models.Q(script_url_expires_at__lte=models.F("file_urls_expire_at")),
                name="presign_script_url_not_beyond_file_urls",
            ),
            models.CheckConstraint(
                condition=models.Q(total_bytes__gte=0), name="presign_total_bytes_non_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.id} {self.package_name}"

    @property
    def has_expired(self) -> bool:
        return self.file_urls_expire_at <= timezone.now()
