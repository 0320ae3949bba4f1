"""Catalog admin search finds the right rows: by library, subject (internal and external),
project, instrument run and portal run id; and leaves unrelated rows out."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.db.models import Model
from django.test import Client
from django.urls import reverse

from catalog_app.models import Fastq, Library, Project, SequencingRun, Subject, WorkflowRun

pytestmark = pytest.mark.django_db

# From the demo facility (catalog_app.demo): subject index 0 is SBJ00101 / PM3045670 in CUP, its
# tumor and normal are L2400101 and L2400102; subject index 5 (SBJ00106) is in PanCan.
TUMOR, NORMAL = "L2400101", "L2400102"
SUBJECT, EXTERNAL_SUBJECT = "SBJ00101", "PM3045670"
OTHER_SUBJECT = "SBJ00106"


@pytest.fixture
def admin_browser(demo_catalog: Path) -> Client:
    client = Client()
    client.force_login(User.objects.create_superuser("root-admin", "root@example.org", None))
    return client


def search(client: Client, model: type[Model], term: str) -> set[object]:
    """Primary keys the admin changelist of `model` lists for the search `term`."""
    meta = model._meta
    url = reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist")
    response = client.get(url, {"q": term})
    assert response.status_code == 200
    return {obj.pk for obj in response.context["cl"].result_list}


def library(library_id: str) -> Library:
    return Library.objects.get(library_id=library_id)


def other_subject_library() -> Library:
    return Library.objects.filter(subject__internal_subject_id=OTHER_SUBJECT).first()  # type: ignore[return-value]


def test_library_search_by_library_id_finds_only_that_library(admin_browser: Client) -> None:
    found = search(admin_browser, Library, TUMOR)
    assert library(TUMOR).pk in found
    assert library(NORMAL).pk not in found  # same subject, other library


def test_library_search_by_internal_and_external_subject_id(admin_browser: Client) -> None:
    for term in (SUBJECT, EXTERNAL_SUBJECT):
        found = search(admin_browser, Library, term)
        assert {library(TUMOR).pk, library(NORMAL).pk} <= found, term
        assert other_subject_library().pk not in found, term


def test_library_search_by_project_id(admin_browser: Client) -> None:
    found = search(admin_browser, Library, "PanCan")
    assert other_subject_library().pk in found
    assert library(TUMOR).pk not in found  # a CUP library


def test_library_search_by_instrument_run_id(admin_browser: Client) -> None:
    run = "241101_A01052_0221_AHVTC2DSXC"
    on_run = Library.objects.filter(runs__instrument_run_id=run).first()
    assert on_run is not None
    assert not library(TUMOR).runs.filter(instrument_run_id=run).exists()
    found = search(admin_browser, Library, run)
    assert on_run.pk in found
    assert library(TUMOR).pk not in found


def test_library_search_by_portal_run_id(admin_browser: Client) -> None:
    workflow_run = WorkflowRun.objects.filter(libraries__library_id=TUMOR).first()
    assert workflow_run is not None
    found = search(admin_browser, Library, workflow_run.portal_run_id)
    assert library(TUMOR).pk in found
    assert other_subject_library().pk not in found


def test_subject_search_by_internal_and_external_id(admin_browser: Client) -> None:
    subject = Subject.objects.get(internal_subject_id=SUBJECT)
    other = Subject.objects.get(internal_subject_id=OTHER_SUBJECT)
    for term in (SUBJECT, EXTERNAL_SUBJECT):
        found = search(admin_browser, Subject, term)
        assert subject.pk in found, term
        assert other.pk not in found, term


def test_project_search_by_project_id(admin_browser: Client) -> None:
    found = search(admin_browser, Project, "PanCan")
    assert Project.objects.get(project_id="PanCan").pk in found
    assert Project.objects.get(project_id="CUP").pk not in found


def test_sequencing_run_and_fastq_search_by_instrument_run_id(admin_browser: Client) -> None:
    run = SequencingRun.objects.get(instrument_run_id="241101_A01052_0221_AHVTC2DSXC")
    other = SequencingRun.objects.get(instrument_run_id="241024_A00130_0336_BHW7MVDSXC")
    found = search(admin_browser, SequencingRun, run.instrument_run_id)
    assert run.pk in found and other.pk not in found
    fastqs = search(admin_browser, Fastq, run.instrument_run_id)
    assert set(Fastq.objects.filter(run=run).values_list("pk", flat=True)) == fastqs
    assert fastqs and not Fastq.objects.filter(pk__in=fastqs).exclude(run=run).exists()


def test_workflow_run_search_by_portal_run_id_and_subject(admin_browser: Client) -> None:
    mine = WorkflowRun.objects.filter(libraries__library_id=TUMOR).first()
    theirs = WorkflowRun.objects.filter(
        libraries__subject__internal_subject_id=OTHER_SUBJECT
    ).first()
    assert mine is not None and theirs is not None
    found = search(admin_browser, WorkflowRun, mine.portal_run_id)
    assert mine.pk in found and theirs.pk not in found
    by_subject = search(admin_browser, WorkflowRun, SUBJECT)
    assert mine.pk in by_subject and theirs.pk not in by_subject
