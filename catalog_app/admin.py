from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from catalog_app.models import (
    Fastq,
    Individual,
    Library,
    LibraryRun,
    Project,
    SequencingRun,
    StoredObject,
    Subject,
    WorkflowRun,
)
from catalog_app.services import fastq_rows_delete
from catalog_app.sources.admin import AllowedSourceAdmin as AllowedSourceAdmin


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin[Project]):
    list_display = ["project_id", "owner_id"]
    search_fields = ["project_id", "owner_id"]


@admin.register(Individual)
class IndividualAdmin(admin.ModelAdmin[Individual]):
    search_fields = ["individual_id"]


@admin.register(Subject)
class SubjectAdmin(admin.ModelAdmin[Subject]):
    list_display = ["internal_subject_id", "external_subject_id", "individual"]
    search_fields = ["internal_subject_id", "external_subject_id", "individual__individual_id"]
    list_select_related = ["individual"]
    raw_id_fields = ["individual"]


class LibraryRunInline(admin.TabularInline[LibraryRun, Library]):
    model = LibraryRun
    extra = 0
    raw_id_fields = ["run"]


@admin.register(Library)
class LibraryAdmin(admin.ModelAdmin[Library]):
    list_display = [
        "library_id",
        "sample_id",
        "subject",
        "phenotype",
        "type",
        "assay",
        "workflow",
        "quality",
    ]
    list_filter = ["type", "phenotype", "assay", "workflow", "quality", "projects"]
    search_fields = [
        "library_id",
        "sample_id",
        "external_sample_id",
        "subject__internal_subject_id",
        "subject__external_subject_id",
        "projects__project_id",
        "runs__instrument_run_id",
        "workflow_runs__portal_run_id",
    ]
    list_select_related = ["subject"]
    raw_id_fields = ["subject"]
    filter_horizontal = ["projects"]
    inlines = [LibraryRunInline]

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Library], search_term: str
    ) -> tuple[QuerySet[Library], bool]:
        results, _ = super().get_search_results(request, queryset, search_term)
        return results.distinct(), False


@admin.register(SequencingRun)
class SequencingRunAdmin(admin.ModelAdmin[SequencingRun]):
    list_display = ["instrument_run_id", "run_date"]
    search_fields = ["instrument_run_id", "libraries__library_id"]
    date_hierarchy = "run_date"


@admin.register(StoredObject)
class StoredObjectAdmin(admin.ModelAdmin[StoredObject]):
    list_display = [
        "bucket",
        "key",
        "size",
        "storage_class",
        "restore_state",
        "missing",
        "last_seen",
    ]
    list_filter = ["storage_class", "restore_state", "missing", "bucket"]
    search_fields = ["key"]
    show_full_result_count = False


@admin.register(Fastq)
class FastqAdmin(admin.ModelAdmin[Fastq]):
    """FASTQ rows are removed with the "Delete selected" action (a confirmation page first) or
    from a row's page, through the same service as the API: objects never seen in storage go
    with them, frozen packages keep their files."""

    list_display = ["library", "run", "lane", "rgid", "compression_format", "read1"]
    list_filter = ["compression_format", "lane"]
    search_fields = ["library__library_id", "source_library_id", "run__instrument_run_id", "rgid"]
    list_select_related = ["library", "run", "read1"]
    raw_id_fields = ["library", "run", "read1", "read2"]

    def delete_model(self, request: HttpRequest, obj: Fastq) -> None:
        fastq_rows_delete(fastqs=Fastq.objects.filter(pk=obj.pk))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Fastq]) -> None:
        fastq_rows_delete(fastqs=queryset)


@admin.register(WorkflowRun)
class WorkflowRunAdmin(admin.ModelAdmin[WorkflowRun]):
    list_display = [
        "portal_run_id",
        "workflow_name",
        "workflow_version",
        "status",
        "start_time",
        "end_time",
    ]
    list_filter = ["workflow_name", "status"]
    search_fields = [
        "portal_run_id",
        "workflow_name",
        "libraries__library_id",
        "libraries__subject__internal_subject_id",
    ]
    raw_id_fields = ["libraries"]
    date_hierarchy = "start_time"
