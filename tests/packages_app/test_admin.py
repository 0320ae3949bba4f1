"""Admin pages for packages, frozen files and workflow file filters."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from packages_app.models import DataType, Package, PackageFile, PackageStatus
from packages_app.workflow_filters.models import WorkflowFileFilter, WorkflowFileFilterRule
from tests.staff import staff_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_browser(db: Any) -> Client:
    user = User.objects.create_superuser("root", password="pw-not-used")
    client = Client()
    client.force_login(user)
    return client


def package_with_files(count: int, status: str = PackageStatus.SUCCEEDED) -> Package:
    package = Package.objects.create(
        package_name="big",
        status=status,
        request={"project_id_list": ["CUP"], "data_type_list": ["fastq"]},
        file_count=count,
    )
    PackageFile.objects.bulk_create(
        PackageFile(
            package=package,
            relative_path=f"fastq/run/Lane_1/L{i:05d}/L{i:05d}_R1.fastq.gz",
            data_type=DataType.FASTQ,
            source_bucket="bucket",
            source_key=f"k/{i}",
            size=i,
        )
        for i in range(count)
    )
    return package


def test_package_changelist_and_filters(admin_browser: Client) -> None:
    package_with_files(1)
    package_with_files(1, PackageStatus.FAILED)
    response = admin_browser.get("/admin/packages_app/package/?status__exact=FAILED")
    assert response.status_code == 200
    assert response.context["cl"].result_count == 1


def test_package_page_shows_request_and_one_page_of_files(admin_browser: Client) -> None:
    package = package_with_files(120)
    page = admin_browser.get(f"/admin/packages_app/package/{package.id}/change/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "&quot;project_id_list&quot;" in html or '"project_id_list"' in html
    assert "L00000/L00000_R1.fastq.gz" in html
    assert "L00050/" not in html  # page 1 shows 50 rows
    assert "120 rows, page 1 of 3" in html
    last = admin_browser.get(f"/admin/packages_app/package/{package.id}/change/?files_page=3")
    html = last.content.decode()
    assert "L00119/" in html and "L00000/" not in html
    assert (
        admin_browser.get(
            f"/admin/packages_app/package/{package.id}/change/?files_page=x"
        ).status_code
        == 200
    )


def test_admin_abort_action(admin_browser: Client) -> None:
    running = package_with_files(0, PackageStatus.RUNNING)
    done = package_with_files(0)
    response = admin_browser.post(
        "/admin/packages_app/package/",
        {"action": "abort_packages", "_selected_action": [running.id, done.id]},
        follow=True,
    )
    assert response.status_code == 200
    running.refresh_from_db()
    done.refresh_from_db()
    assert running.status == PackageStatus.ABORTED
    assert running.error_message == "Aborted by root."
    assert done.status == PackageStatus.SUCCEEDED
    messages = [str(m) for m in response.context["messages"]]
    assert "Aborted 1 package(s)." in messages
    assert any("already SUCCEEDED" in m for m in messages)


def test_package_file_admin_lists_and_searches(admin_browser: Client) -> None:
    package = package_with_files(3)
    response = admin_browser.get(
        f"/admin/packages_app/packagefile/?package__id__exact={package.id}&q=L00002"
    )
    assert response.status_code == 200
    assert response.context["cl"].result_count == 1


def test_filter_admin_edits_rules_and_rejects_bad_patterns(admin_browser: Client) -> None:
    assert admin_browser.get("/admin/packages_app/workflowfilefilter/").status_code == 200
    workflow_filter = WorkflowFileFilter.objects.get(workflow_name="rnasum")
    url = f"/admin/packages_app/workflowfilefilter/{workflow_filter.pk}/change/"
    assert admin_browser.get(url).status_code == 200
    rules = list(workflow_filter.rules.all())
    form = {
        "workflow_name": "rnasum",
        "description": "edited",
        "enabled": "on",
        "rules-TOTAL_FORMS": str(len(rules) + 1),
        "rules-INITIAL_FORMS": str(len(rules)),
        "rules-MIN_NUM_FORMS": "0",
        "rules-MAX_NUM_FORMS": "1000",
    }
    for i, rule in enumerate(rules):
        form.update(
            {
                f"rules-{i}-id": str(rule.pk),
                f"rules-{i}-filter": str(workflow_filter.pk),
                f"rules-{i}-action": rule.action,
                f"rules-{i}-pattern": rule.pattern,
                f"rules-{i}-description": "",
            }
        )
    new = len(rules)
    form.update(
        {
            f"rules-{new}-filter": str(workflow_filter.pk),
            f"rules-{new}-action": "exclude",
            f"rules-{new}-pattern": "(unclosed",
        }
    )
    response = admin_browser.post(url, form)
    assert response.status_code == 200  # the form again, with the error
    assert "Not a valid regular expression" in response.content.decode()
    form[f"rules-{new}-pattern"] = r".*\.rds"
    response = admin_browser.post(url, form)
    assert response.status_code == 302
    assert WorkflowFileFilterRule.objects.filter(
        filter=workflow_filter, action="exclude", pattern=r".*\.rds"
    ).exists()


def test_admin_deletes_finished_packages_with_their_artifacts_not_running_ones(
    admin_browser: Client, demo_storage: None
) -> None:
    from django.conf import settings

    from datasharing import s3

    running = package_with_files(2, PackageStatus.RUNNING)
    done = package_with_files(2)
    s3.ensure_bucket(settings.ARTIFACT_BUCKET)
    s3.put_object(settings.ARTIFACT_BUCKET, s3.artifact_key(done.id, "manifest.tsv"), b"x")
    refused = admin_browser.get(f"/admin/packages_app/package/{running.id}/delete/")
    assert refused.status_code == 403
    response = admin_browser.post(f"/admin/packages_app/package/{done.id}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not Package.objects.filter(id=done.id).exists()
    assert list(s3.list_objects(settings.ARTIFACT_BUCKET, s3.artifact_key(done.id) + "/")) == []
    assert PackageFile.objects.filter(package_id=running.id).count() == 2
    file = PackageFile.objects.filter(package_id=running.id).first()
    assert (
        admin_browser.get(f"/admin/packages_app/packagefile/{file.pk}/delete/").status_code == 403
    )


# --- Owner-or-admin (docs/permissions.md) -------------------------------------------------------

PACKAGE_PERMISSIONS = ("packages_app.view_package", "packages_app.delete_package")


def test_a_staff_curator_aborts_only_their_own_packages_in_the_admin(
    curator: User, other_curator: User
) -> None:
    browser = staff_client(curator, *PACKAGE_PERMISSIONS)
    mine = Package.objects.create(
        package_name="mine", status=PackageStatus.RUNNING, request={}, requested_by=curator
    )
    theirs = Package.objects.create(
        package_name="theirs", status=PackageStatus.RUNNING, request={}, requested_by=other_curator
    )
    response = browser.post(
        "/admin/packages_app/package/",
        {"action": "abort_packages", "_selected_action": [mine.id, theirs.id]},
        follow=True,
    )
    assert response.status_code == 200
    mine.refresh_from_db()
    theirs.refresh_from_db()
    assert (mine.status, theirs.status) == (PackageStatus.ABORTED, PackageStatus.RUNNING)
    messages = [str(m) for m in response.context["messages"]]
    assert "Aborted 1 package(s)." in messages
    assert (
        f"Package {theirs.id} was requested by otto-curator: only they or an admin may abort it."
        in messages
    )


def test_a_staff_curator_deletes_only_their_own_packages_in_the_admin(
    curator: User, other_curator: User
) -> None:
    browser = staff_client(curator, *PACKAGE_PERMISSIONS)
    mine = package_with_files(0)
    theirs = package_with_files(0)
    Package.objects.filter(id=mine.id).update(requested_by=curator)
    Package.objects.filter(id=theirs.id).update(requested_by=other_curator)

    assert browser.get(f"/admin/packages_app/package/{theirs.id}/delete/").status_code == 403
    assert (
        browser.post(f"/admin/packages_app/package/{theirs.id}/delete/", {"post": "yes"})
    ).status_code == 403
    # The bulk action checks model permissions only; the service refuses other users' packages.
    response = browser.post(
        "/admin/packages_app/package/",
        {"action": "delete_selected", "_selected_action": [mine.id, theirs.id], "post": "yes"},
        follow=True,
    )
    assert response.status_code == 200
    assert list(Package.objects.values_list("id", flat=True)) == [theirs.id]
    messages = [str(m) for m in response.context["messages"]]
    assert any("was requested by otto-curator" in m for m in messages)


def test_an_admin_deletes_another_users_package_in_the_admin(
    admin_user: User, other_curator: User
) -> None:
    browser = staff_client(admin_user, *PACKAGE_PERMISSIONS)
    theirs = package_with_files(0)
    Package.objects.filter(id=theirs.id).update(requested_by=other_curator)
    response = browser.post(f"/admin/packages_app/package/{theirs.id}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not Package.objects.exists()
