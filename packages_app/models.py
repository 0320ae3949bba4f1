"""Packages: a request, its lifecycle, and the frozen contents resolved from the catalog.

The frozen rows (libraries, analyses, files) are a snapshot: reports, pushes and presigns read
them, never the live catalog, so a package shares exactly what was reviewed.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from catalog_app.models import ArchiveState
from datasharing.ids import new_id
from packages_app.workflow_filters.models import WorkflowFileFilter, WorkflowFileFilterRule

# The workflow filters' models are defined in their area, re-exported for Django.
__all__ = [
    "TERMINAL_PACKAGE_STATUSES",
    "DataType",
    "Package",
    "PackageAnalysis",
    "PackageFile",
    "PackageLibrary",
    "PackageStatus",
    "WorkflowFileFilter",
    "WorkflowFileFilterRule",
    "new_package_id",
]


def new_package_id() -> str:
    return new_id("pkg")


class PackageStatus(models.TextChoices):
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    UNARCHIVING = "UNARCHIVING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    ABORTED = "ABORTED"


TERMINAL_PACKAGE_STATUSES = (PackageStatus.SUCCEEDED, PackageStatus.FAILED, PackageStatus.ABORTED)


class DataType(models.TextChoices):
    FASTQ = "fastq"
    SECONDARY_ANALYSIS = "secondaryAnalysis"


class Package(models.Model):
    id = models.CharField(primary_key=True, max_length=40, default=new_package_id, editable=False)
    package_name = models.CharField(max_length=255, db_index=True)
    status = models.CharField(
        max_length=16, choices=PackageStatus.choices, default=PackageStatus.PENDING, db_index=True
    )
    # The validated request, snake_case keys (`library_id_list`, `data_type_list`, ...).
    request = models.JSONField()
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="packages",
    )
    request_time = models.DateTimeField(default=timezone.now, db_index=True)
    start_time = models.DateTimeField(null=True, blank=True)
    completion_time = models.DateTimeField(null=True, blank=True, db_index=True)
    # Bumped by every step that makes progress; the stuck-job check compares against it.
    last_progress_time = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True)
    error_message = models.TextField(blank=True)
    step = models.CharField(max_length=64, blank=True, help_text="Pipeline step being worked on.")
    # Times the pipeline has claimed this package (transient failures release and retry it).
    attempts = models.PositiveSmallIntegerField(default=0)
    # When restore requests were issued (UNARCHIVING); the restore wait limit counts from here.
    restore_requested_at = models.DateTimeField(null=True, blank=True)

    library_count = models.PositiveIntegerField(default=0)
    fastq_count = models.PositiveIntegerField(default=0)
    workflow_run_count = models.PositiveIntegerField(default=0)
    file_count = models.PositiveIntegerField(default=0)
    total_bytes = models.BigIntegerField(default=0)
    archived_file_count = models.PositiveIntegerField(default=0)

    # Artifacts in settings.ARTIFACT_BUCKET (empty until written).
    report_html_key = models.CharField(max_length=1024, blank=True)
    report_pdf_key = models.CharField(max_length=1024, blank=True)
    manifest_key = models.CharField(max_length=1024, blank=True)
    checksums_key = models.CharField(max_length=1024, blank=True)

    class Meta:
        ordering = ["-request_time", "-id"]
        indexes = [models.Index(fields=["-request_time", "-id"], name="package_newest_first_idx")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=PackageStatus.values), name="package_status_valid"
            )
        ]

    def __str__(self) -> str:
        return f"{self.id} {self.package_name}"

    @property
    def has_expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= timezone.now()

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_PACKAGE_STATUSES


class PackageLibrary(models.Model):
    """A library in the package with its LIMS metadata as it was at packaging time."""

    package = models.ForeignKey(Package, on_delete=models.CASCADE, related_name="libraries")
    # The catalog row (None once deleted from the catalog); `library_id` is the frozen id.
    catalog_library = models.ForeignKey(
        "catalog_app.Library", null=True, on_delete=models.SET_NULL, related_name="+"
    )
    library_id = models.CharField(max_length=100)
    # Snapshot: sample, subject, individual, project ids, phenotype, type, assay, ...
    metadata = models.JSONField(default=dict)

    class Meta:
        ordering = ["library_id"]
        constraints = [
            models.UniqueConstraint(fields=["package", "library_id"], name="uniq_package_library")
        ]

    def __str__(self) -> str:
        return self.library_id


class PackageAnalysis(models.Model):
    """A workflow run (secondary analysis) in the package, frozen."""

    package = models.ForeignKey(Package, on_delete=models.CASCADE, related_name="analyses")
    workflow_run = models.ForeignKey(
        "catalog_app.WorkflowRun", null=True, on_delete=models.SET_NULL, related_name="+"
    )
    portal_run_id = models.CharField(max_length=16)
    workflow_name = models.CharField(max_length=100)
    workflow_version = models.CharField(max_length=100, blank=True)
    status = models.CharField(max_length=50)
    start_time = models.DateTimeField(null=True, blank=True)
    end_time = models.DateTimeField(null=True, blank=True)
    output_uri = models.CharField(max_length=1100)
    library_ids = models.JSONField(default=list)

    class Meta:
        ordering = ["workflow_name", "portal_run_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["package", "portal_run_id"], name="uniq_package_analysis"
            )
        ]

    def __str__(self) -> str:
        return f"{self.workflow_name} {self.portal_run_id}"


class PackageFile(ArchiveState, models.Model):
    """One file of the package: where it comes from and where the recipient will see it."""

    package = models.ForeignKey(Package, on_delete=models.CASCADE, related_name="files")
    relative_path = models.CharField(max_length=1024)
    data_type = models.CharField(max_length=32, choices=DataType.choices)
    source_bucket = models.CharField(max_length=63)
    source_key = models.CharField(max_length=1024)
    size = models.BigIntegerField()
    etag = models.CharField(max_length=100, blank=True)
    md5 = models.CharField(max_length=32, blank=True)
    sha256 = models.CharField(max_length=64, blank=True)
    storage_class = models.CharField(max_length=32, default="STANDARD")
    # Restore state at freeze time (updated by defrost): "", "ongoing", "restored".
    restore_state = models.CharField(max_length=16, blank=True)
    stored_object = models.ForeignKey(
        "catalog_app.StoredObject", null=True, on_delete=models.SET_NULL, related_name="+"
    )
    catalog_library = models.ForeignKey(
        "catalog_app.Library", null=True, on_delete=models.SET_NULL, related_name="+"
    )
    fastq = models.ForeignKey(
        "catalog_app.Fastq", null=True, on_delete=models.SET_NULL, related_name="+"
    )
    workflow_run = models.ForeignKey(
        "catalog_app.WorkflowRun", null=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Denormalised for reports and manifests (frozen; the catalog may change later).
    library_id = models.CharField(max_length=100, blank=True)
    instrument_run_id = models.CharField(max_length=255, blank=True)
    lane = models.PositiveSmallIntegerField(null=True, blank=True)
    read_number = models.PositiveSmallIntegerField(null=True, blank=True)
    portal_run_id = models.CharField(max_length=16, blank=True)
    workflow_name = models.CharField(max_length=100, blank=True)

    class Meta:
        ordering = ["relative_path"]
        constraints = [
            models.UniqueConstraint(
                fields=["package", "relative_path"], name="uniq_package_relative_path"
            )
        ]
        indexes = [models.Index(fields=["package", "data_type"], name="package_file_type_idx")]

    def __str__(self) -> str:
        return self.relative_path

    @property
    def source_uri(self) -> str:
        return f"s3://{self.source_bucket}/{self.source_key}"

    @property
    def file_name(self) -> str:
        return self.relative_path.rsplit("/", 1)[-1]
