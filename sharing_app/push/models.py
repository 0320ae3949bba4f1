"""Push jobs and the ledger of every file pushed.

The ledger (`PushFile`) is the audit record of what left the facility: one row per file per push,
kept when the package is deleted (rows carry their own copy of what they describe).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from datasharing.ids import new_id
from sharing_app.destinations.destination import Destination


def new_push_job_id() -> str:
    return new_id("psh")


class PushStatus(models.TextChoices):
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    ABORTED = "ABORTED"


TERMINAL_PUSH_STATUSES = (PushStatus.SUCCEEDED, PushStatus.FAILED, PushStatus.ABORTED)
ACTIVE_PUSH_STATUSES = (PushStatus.PENDING, PushStatus.RUNNING)


class PushStep(models.TextChoices):
    QUEUED = "queued"
    PLANNING = "planning"  # pre-flight, start marker, ledger rows
    COPYING = "copying"  # copier tasks on workers
    FINALIZING = "finalizing"  # receipts, end marker, final status
    DONE = "done"


class DestinationType(models.TextChoices):
    S3 = "s3"
    ICAV2 = "icav2"


class PushJob(models.Model):
    id = models.CharField(primary_key=True, max_length=40, default=new_push_job_id, editable=False)
    # SET_NULL: the job and its ledger outlive the package (auditors still need them).
    package = models.ForeignKey(
        "packages_app.Package",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="push_jobs",
    )
    package_name = models.CharField(max_length=255)
    share_destination = models.CharField(max_length=1100, help_text="Normalised, ends with '/'.")
    destination_type = models.CharField(max_length=8, choices=DestinationType.choices)
    destination_bucket = models.CharField(max_length=63, blank=True)
    destination_prefix = models.CharField(max_length=1024, blank=True)
    icav2_project = models.CharField(max_length=255, blank=True, help_text="As given (id or name).")
    icav2_project_id = models.CharField(max_length=64, blank=True)
    icav2_folder_path = models.CharField(max_length=1024, blank=True)
    icav2_folder_id = models.CharField(max_length=64, blank=True)

    status = models.CharField(
        max_length=16, choices=PushStatus.choices, default=PushStatus.PENDING, db_index=True
    )
    step = models.CharField(max_length=16, choices=PushStep.choices, default=PushStep.QUEUED)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="push_jobs",
    )
    # Kept when the user is deleted: who started a push is part of the audit record.
    requested_by_name = models.CharField(max_length=150, blank=True)
    request_time = models.DateTimeField(default=timezone.now, db_index=True)
    start_time = models.DateTimeField(null=True, blank=True)
    completion_time = models.DateTimeField(null=True, blank=True)
    # Bumped by every step, recorded outcome and heartbeat; reconciliation compares against it.
    last_progress_time = models.DateTimeField(default=timezone.now)
    resume_count = models.PositiveIntegerField(default=0)
    # Nothing was under the destination prefix when the push started: no file can be there
    # already (identical or not), so first attempts copy without looking.
    destination_was_empty = models.BooleanField(default=False)
    error_message = models.TextField(blank=True)

    file_count = models.PositiveIntegerField(default=0)
    succeeded_count = models.PositiveIntegerField(default=0)
    skipped_count = models.PositiveIntegerField(default=0)
    failed_count = models.PositiveIntegerField(default=0)
    total_bytes = models.BigIntegerField(default=0)
    # Bytes written to the destination by this job (skipped files excluded).
    transferred_bytes = models.BigIntegerField(default=0)

    class Meta:
        ordering = ["-request_time", "-id"]
        indexes = [
            models.Index(fields=["-request_time", "-id"], name="push_newest_first_idx"),
            models.Index(fields=["package", "-request_time"], name="push_package_idx"),
            models.Index(fields=["status", "last_progress_time"], name="push_status_progress_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=TERMINAL_PUSH_STATUSES, completion_time__isnull=False)
                | (~Q(status__in=TERMINAL_PUSH_STATUSES) & Q(completion_time__isnull=True)),
                name="push_completion_time_iff_terminal",
            ),
            models.CheckConstraint(
                condition=Q(destination_type=DestinationType.ICAV2)
                | (Q(destination_type=DestinationType.S3) & ~Q(destination_bucket="")),
                name="push_s3_has_bucket",
            ),
            # Two live pushes of one package to one place would race on the same objects.
            models.UniqueConstraint(
                fields=["package", "share_destination"],
                condition=Q(status__in=ACTIVE_PUSH_STATUSES),
                name="one_active_push_per_package_destination",
            ),
        ]
        permissions = [
            (
                "push_to_any_destination",
                "Can push packages to destinations outside the allowed list",
            )
        ]

    def __str__(self) -> str:
        return f"{self.id} {self.package_name} -> {self.share_destination}"

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_PUSH_STATUSES

    @property
    def destination(self) -> Destination:
        """The destination the job was created for, rebuilt from the stored parts (the ICAv2
        project as given, not the id it resolved to)."""
        if self.destination_type == DestinationType.S3:
            return Destination.in_s3(bucket=self.destination_bucket, prefix=self.destination_prefix)
        return Destination.in_icav2(project=self.icav2_project, folder_path=self.icav2_folder_path)


class PushFileStatus(models.TextChoices):
    PENDING = "PENDING"
    IN_PROGRESS = "IN_PROGRESS"
    SUCCEEDED = "SUCCEEDED"  # written by this job and verified
    SKIPPED = "SKIPPED"  # already at the destination and identical (verified), not rewritten
    FAILED = "FAILED"
    ABORTED = "ABORTED"  # never written: the job was aborted or failed first


VERIFIED_FILE_STATUSES = (PushFileStatus.SUCCEEDED, PushFileStatus.SKIPPED)


class VerificationMethod(models.TextChoices):
    ETAG = "etag", "Size and ETag equal to the source's"
    MD5 = "md5", "Size and destination ETag equal to the source's known MD5"
    PART_ETAGS = (
        "size+part-etags",
        "Size, and ETag equal to the one assembled from the copied parts",
    )
    STREAM_MD5 = "size+stream-md5", "Size, and MD5 of the bytes streamed equal to the source's MD5"
    SIZE = "size", "Size only (no comparable checksum)"


class PushFile(models.Model):
    """One file of one push: the ledger row auditors read."""

    job = models.ForeignKey(PushJob, on_delete=models.CASCADE, related_name="files")
    relative_path = models.CharField(max_length=1024)
    data_type = models.CharField(max_length=32, blank=True)
    source_bucket = models.CharField(max_length=63)
    source_key = models.CharField(max_length=1024)
    destination_uri = models.CharField(max_length=2100)
    size = models.BigIntegerField()
    source_etag = models.CharField(max_length=100, blank=True)
    source_md5 = models.CharField(max_length=32, blank=True)
    source_sha256 = models.CharField(max_length=64, blank=True)
    destination_etag = models.CharField(max_length=100, blank=True)
    verification_method = models.CharField(
        max_length=20, choices=VerificationMethod.choices, blank=True
    )
    status = models.CharField(
        max_length=16, choices=PushFileStatus.choices, default=PushFileStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    error = models.TextField(blank=True)
    # Set when a copier claims the row; only the holder of the token may record its outcome.
    claim_token = models.CharField(max_length=32, blank=True, db_index=True)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    # Who the data is about, frozen at push time (searchable without the package).
    library_id = models.CharField(max_length=100, blank=True, db_index=True)
    subject_id = models.CharField(max_length=100, blank=True, db_index=True)
    external_subject_id = models.CharField(max_length=255, blank=True, db_index=True)
    # ",CUP,PanCan," - delimited so `contains=",CUP,"` searches on both SQLite and Postgres.
    project_ids = models.CharField(max_length=1024, blank=True)

    class Meta:
        ordering = ["job", "relative_path"]
        constraints = [
            models.UniqueConstraint(fields=["job", "relative_path"], name="uniq_push_file_per_job"),
            models.CheckConstraint(
                condition=~Q(status__in=VERIFIED_FILE_STATUSES)
                | (~Q(verification_method="") & Q(completed_at__isnull=False)),
                name="push_file_verified_when_done",
            ),
        ]
        indexes = [
            models.Index(fields=["job", "status"], name="push_file_job_status_idx"),
            models.Index(fields=["job", "id"], name="push_file_job_id_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.relative_path} -> {self.destination_uri}"

    @property
    def source_uri(self) -> str:
        return f"s3://{self.source_bucket}/{self.source_key}"

    @property
    def project_id_list(self) -> list[str]:
        return [p for p in self.project_ids.split(",") if p]


def join_project_ids(project_ids: list[str]) -> str:
    cleaned = sorted({p.strip() for p in project_ids if p and p.strip() and "," not in p})
    return f",{','.join(cleaned)}," if cleaned else ""
