"""Reads from the catalog."""

from django.db.models import Count, Prefetch, QuerySet

from catalog_app.models import Library, SequencingRun, WorkflowRun


def library_list(
    *,
    library_ids: list[str] | None = None,
    subject_ids: list[str] | None = None,
    project_ids: list[str] | None = None,
    instrument_run_ids: list[str] | None = None,
    sample_ids: list[str] | None = None,
    types: list[str] | None = None,
    assays: list[str] | None = None,
    phenotypes: list[str] | None = None,
) -> QuerySet[Library]:
    """Libraries matching every given filter; subject ids match internal or external ids."""
    qs = Library.objects.select_related("subject", "subject__individual").prefetch_related(
        "projects",
        Prefetch("runs", queryset=SequencingRun.objects.only("instrument_run_id").order_by()),
    )
    if library_ids:
        qs = qs.filter(library_id__in=library_ids)
    if subject_ids:
        qs = qs.filter(subject__internal_subject_id__in=subject_ids) | qs.filter(
            subject__external_subject_id__in=subject_ids
        )
    if project_ids:
        qs = qs.filter(projects__project_id__in=project_ids)
    if instrument_run_ids:
        qs = qs.filter(runs__instrument_run_id__in=instrument_run_ids)
    if sample_ids:
        qs = qs.filter(sample_id__in=sample_ids)
    if types:
        qs = qs.filter(type__in=types)
    if assays:
        qs = qs.filter(assay__in=assays)
    if phenotypes:
        qs = qs.filter(phenotype__in=phenotypes)
    return qs.distinct().order_by("library_id")


def run_list(
    *, instrument_run_ids: list[str] | None = None, library_ids: list[str] | None = None
) -> QuerySet[SequencingRun]:
    qs = SequencingRun.objects.all()
    if instrument_run_ids:
        qs = qs.filter(instrument_run_id__in=instrument_run_ids)
    if library_ids:
        qs = qs.filter(libraries__library_id__in=library_ids)
    return (
        qs.distinct()
        .order_by("-run_date", "instrument_run_id")
        .annotate(library_count=Count("libraries", distinct=True))
    )


def workflow_run_list(
    *,
    portal_run_ids: list[str] | None = None,
    workflow_names: list[str] | None = None,
    statuses: list[str] | None = None,
    library_ids: list[str] | None = None,
) -> QuerySet[WorkflowRun]:
    qs = WorkflowRun.objects.prefetch_related(
        Prefetch("libraries", queryset=Library.objects.only("library_id"))
    )
    if portal_run_ids:
        qs = qs.filter(portal_run_id__in=portal_run_ids)
    if workflow_names:
        qs = qs.filter(workflow_name__in=workflow_names)
    if statuses:
        qs = qs.filter(status__in=[s.upper() for s in statuses])
    if library_ids:
        qs = qs.filter(libraries__library_id__in=library_ids)
    return qs.distinct().order_by("-start_time", "portal_run_id")
