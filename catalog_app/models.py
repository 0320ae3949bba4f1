"""What data exists: projects, subjects, libraries, sequencing runs, FASTQs, workflow runs and the
S3 objects behind them. Filled by idempotent importers (LIMS, workflow mart, fastq lists, storage
sync) and by platform events.
"""

from django.db import models
from django.utils import timezone

# Defined in its area; imported here so Django registers it with the app.
from catalog_app.sources.models import AllowedSource as AllowedSource
from datasharing import s3


class Project(models.Model):
    project_id = models.CharField(max_length=100, unique=True)
    owner_id = models.CharField(max_length=100, blank=True)

    class Meta:
        ordering = ["project_id"]

    def __str__(self) -> str:
        return self.project_id


class Individual(models.Model):
    individual_id = models.CharField(max_length=100, unique=True)

    class Meta:
        ordering = ["individual_id"]

    def __str__(self) -> str:
        return self.individual_id


class Subject(models.Model):
    internal_subject_id = models.CharField(max_length=100, unique=True)
    external_subject_id = models.CharField(max_length=255, blank=True, db_index=True)
    individual = models.ForeignKey(
        Individual, null=True, blank=True, on_delete=models.SET_NULL, related_name="subjects"
    )

    class Meta:
        ordering = ["internal_subject_id"]

    def __str__(self) -> str:
        return self.internal_subject_id


class SequencingRun(models.Model):
    instrument_run_id = models.CharField(max_length=255, unique=True)
    run_date = models.DateField(null=True, blank=True)
    # When the catalog first heard of the run: automatic sharing's reconciliation looks back
    # from now over runs catalogued recently.
    created_at = models.DateTimeField(default=timezone.now, db_index=True, editable=False)

    class Meta:
        ordering = ["-run_date", "instrument_run_id"]

    def __str__(self) -> str:
        return self.instrument_run_id


class Library(models.Model):
    library_id = models.CharField(max_length=100, unique=True)
    sample_id = models.CharField(max_length=100, blank=True, db_index=True)
    external_sample_id = models.CharField(max_length=255, blank=True)
    subject = models.ForeignKey(
        Subject, null=True, blank=True, on_delete=models.PROTECT, related_name="libraries"
    )
    experiment_id = models.CharField(max_length=255, blank=True)
    phenotype = models.CharField(max_length=100, blank=True)
    type = models.CharField(max_length=100, blank=True)
    assay = models.CharField(max_length=100, blank=True)
    workflow = models.CharField(max_length=100, blank=True)
    quality = models.CharField(max_length=100, blank=True)
    source = models.CharField(max_length=100, blank=True)
    coverage = models.FloatField(null=True, blank=True)
    truseq_index = models.CharField(max_length=255, blank=True)
    projects = models.ManyToManyField(Project, related_name="libraries", blank=True)
    runs: models.ManyToManyField[SequencingRun, "LibraryRun"] = models.ManyToManyField(
        SequencingRun, through="LibraryRun", related_name="libraries", blank=True
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["library_id"]
        verbose_name_plural = "libraries"

    def __str__(self) -> str:
        return self.library_id


class LibraryRun(models.Model):
    """A library sequenced on a run, as the LIMS (or a fastq list) says.

    `source_library_id` keeps the id as written (`L2401544_topup`); `library` is the base library.
    """

    library = models.ForeignKey(Library, on_delete=models.CASCADE, related_name="library_runs")
    run = models.ForeignKey(SequencingRun, on_delete=models.CASCADE, related_name="library_runs")
    source_library_id = models.CharField(max_length=100)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["library", "run", "source_library_id"], name="uniq_library_run_source"
            )
        ]

    def __str__(self) -> str:
        return f"{self.source_library_id} on {self.run_id}"


class ArchiveState:
    """`is_archived` / `needs_restore` for models with `storage_class` and `restore_state` (a
    catalogued object, and its frozen copy in a package)."""

    storage_class: str
    restore_state: str

    @property
    def is_archived(self) -> bool:
        return self.storage_class in s3.ARCHIVED_STORAGE_CLASSES

    @property
    def needs_restore(self) -> bool:
        return self.is_archived and self.restore_state != "restored"


class StoredObject(ArchiveState, models.Model):
    """One S3 object we know of. `size` is None until storage has been read."""

    bucket = models.CharField(max_length=63)
    key = models.CharField(max_length=1024)
    size = models.BigIntegerField(null=True, blank=True)
    etag = models.CharField(max_length=100, blank=True)
    md5 = models.CharField(max_length=32, blank=True)
    sha256 = models.CharField(max_length=64, blank=True)
    storage_class = models.CharField(max_length=32, default="STANDARD")
    # "" never restored, "ongoing" restore in progress, "restored" a readable copy exists.
    restore_state = models.CharField(max_length=16, blank=True)
    restore_expiry = models.CharField(max_length=64, blank=True)
    last_modified = models.DateTimeField(null=True, blank=True)
    last_seen = models.DateTimeField(null=True, blank=True)
    # True when the last sync of its prefix did not find it.
    missing = models.BooleanField(default=False)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["bucket", "key"], name="uniq_stored_object")]
        # Prefix lookups (`key LIKE 'analysis/run/%'`) use this index on Postgres.
        indexes = [
            models.Index(
                fields=["bucket", "key"],
                name="stored_object_prefix_idx",
                opclasses=["varchar_pattern_ops", "varchar_pattern_ops"],
            )
        ]
        ordering = ["bucket", "key"]

    def __str__(self) -> str:
        return self.uri

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    @property
    def file_name(self) -> str:
        return self.key.rsplit("/", 1)[-1]


class Fastq(models.Model):
    """One lane of one library on one run: an R1 object and (paired-end) an R2 object."""

    class Compression(models.TextChoices):
        GZIP = "gzip", "gzip"
        ORA = "ora", "ORA"
        NONE = "none", "uncompressed"

    library = models.ForeignKey(Library, on_delete=models.CASCADE, related_name="fastqs")
    run = models.ForeignKey(SequencingRun, on_delete=models.CASCADE, related_name="fastqs")
    lane = models.PositiveSmallIntegerField()
    rgid = models.CharField(max_length=255)
    source_library_id = models.CharField(max_length=100)
    read1 = models.OneToOneField(StoredObject, on_delete=models.PROTECT, related_name="fastq_r1")
    read2 = models.OneToOneField(
        StoredObject, null=True, blank=True, on_delete=models.PROTECT, related_name="fastq_r2"
    )
    compression_format = models.CharField(max_length=8, choices=Compression.choices)
    read_count = models.BigIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["run__instrument_run_id", "lane", "library__library_id"]
        indexes = [models.Index(fields=["library", "run"], name="fastq_library_run_idx")]

    def __str__(self) -> str:
        return f"{self.library_id} {self.run_id} L{self.lane}"


class WorkflowRun(models.Model):
    portal_run_id = models.CharField(max_length=16, unique=True)
    workflow_name = models.CharField(max_length=100, db_index=True)
    workflow_version = models.CharField(max_length=100, blank=True)
    status = models.CharField(max_length=50, db_index=True)
    start_time = models.DateTimeField(null=True, blank=True)
    end_time = models.DateTimeField(null=True, blank=True)
    duration_seconds = models.BigIntegerField(null=True, blank=True)
    comment = models.TextField(blank=True)
    output_uri = models.CharField(max_length=1100)
    libraries = models.ManyToManyField(Library, related_name="workflow_runs", blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    SUCCESS_STATUSES = ("SUCCEEDED",)

    class Meta:
        ordering = ["-start_time", "portal_run_id"]

    def __str__(self) -> str:
        return self.portal_run_id
