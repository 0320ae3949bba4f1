"""Who may change auto-share rules (docs/permissions.md), per role and owner, over the API, the
admin and `import_auto_jobs`: issue 16's finding (b), a curator repurposing an admin's rule into
unapproved pushes, and finding (d), curators editing and deleting each other's rules."""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.apps import apps
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from automation_app import shares
from automation_app.models import AutoShare, AutoShareRule, AutoShareStatus, Trigger
from catalog_app.models import SequencingRun
from packages_app.models import Package
from sharing_app.destinations.models import AllowedDestination
from sharing_app.push.models import PushJob
from tests.automation_app.conftest import RUN_2
from tests.conftest import client_for
from tests.staff import staff_client

pytestmark = pytest.mark.django_db

URL = "/api/v1/auto-share/rules"
ALLOWED_PREFIX = "s3://recipient-bucket/"
ALLOWED = "s3://recipient-bucket/cup/"
ADMINS_ONLY = "s3://admins-only-bucket/incoming/"  # on no allow-list: admins may push there


@pytest.fixture
def allowed(allow_destination: Callable[[str], None]) -> None:
    allow_destination(ALLOWED_PREFIX)


def rule_body(**fields: Any) -> dict[str, Any]:
    return {
        "jobName": "cup-fastq",
        "projectIdList": ["CUP"],
        "dataTypeList": ["fastq"],
        "shareDestination": ALLOWED,
        "requireApproval": True,
        **fields,
    }


def create_rule(client: APIClient, **fields: Any) -> AutoShareRule:
    response = client.post(URL, rule_body(**fields), format="json")
    assert response.status_code == 201, response.json()
    return AutoShareRule.objects.get(pk=response.json()["id"])


def stored(rule: AutoShareRule) -> dict[str, Any]:
    """Every column of the rule as stored."""
    return AutoShareRule.objects.filter(pk=rule.pk).values().get()


def patch(client: APIClient, rule: AutoShareRule, **fields: Any) -> Any:
    return client.patch(f"{URL}/{rule.pk}", fields, format="json")


def evaluate(run_id: str = RUN_2) -> dict[str, str]:
    """Evaluate the run as an event would; the outcome per job name."""
    evaluation = shares.auto_share_evaluate_run(
        run=SequencingRun.objects.get(instrument_run_id=run_id), trigger=Trigger.EVENT
    )
    return {row["jobName"]: row["outcome"] for row in evaluation.as_dict()["rules"]}


def not_theirs(rule: AutoShareRule, owner: str, action: str = "change") -> str:
    return (
        f"Auto-share rule {rule.job_name!r} was created by {owner}: only they or an admin may "
        f"{action} it."
    )


# --- Finding (b): a curator repurposing an admin's rule -----------------------------------------


@pytest.mark.parametrize(
    "change",
    [
        {"projectIdList": ["CUP"]},
        {"dataTypeList": ["fastq", "secondaryAnalysis"]},
        {"enabled": False},
        {"requireApproval": True},
        {"notifyEmails": ["curator@example.org"]},
        {"shareDestination": ALLOWED},
    ],
)
def test_a_curator_cannot_change_any_field_of_an_admins_rule(
    allowed: None, admin_client_api: APIClient, curator_client: APIClient, change: dict[str, Any]
) -> None:
    rule = create_rule(
        admin_client_api,
        jobName="admin-share",
        projectIdList=["PanCan"],
        shareDestination=ADMINS_ONLY,
        requireApproval=False,
    )
    before = stored(rule)

    refused = patch(curator_client, rule, **change)

    assert refused.status_code == 403
    assert refused.json() == {
        "message": not_theirs(rule, "ada-admin"),
        "details": {"owner": "ada-admin"},
    }
    assert stored(rule) == before


def test_the_repurposed_admin_rule_pushes_nothing_of_the_curators_choosing(
    allowed: None,
    demo_catalog: Path,
    admin_client_api: APIClient,
    curator_client: APIClient,
    django_capture_on_commit_callbacks: Any,
) -> None:
    # The admin's rule: projects, no approval, enabled, toward a bucket only admins may push to.
    rule = create_rule(
        admin_client_api,
        jobName="admin-share",
        projectIdList=["NoSuchProject"],
        shareDestination=ADMINS_ONLY,
        requireApproval=False,
    )
    # The curator points it at the CUP project: refused, so the next run shares nothing.
    assert patch(curator_client, rule, projectIdList=["CUP"]).status_code == 403

    with django_capture_on_commit_callbacks(execute=True):
        outcomes = evaluate()

    assert outcomes["admin-share"].startswith("skipped: no FASTQs")
    assert not AutoShare.objects.exists()
    assert not Package.objects.exists()
    assert not PushJob.objects.exists()


def test_a_curator_cannot_switch_off_approval_toward_a_destination_they_may_not_push_to(
    allowed: None,
    demo_catalog: Path,
    curator_client: APIClient,
    admin_client_api: APIClient,
    admin_user: User,
    django_capture_on_commit_callbacks: Any,
) -> None:
    rule = create_rule(curator_client, jobName="cup-approved", requireApproval=True)
    # An admin moves the curator's rule to a bucket only admins may push to.
    assert patch(admin_client_api, rule, shareDestination=ADMINS_ONLY).status_code == 200
    before = stored(rule)

    approval_off = patch(curator_client, rule, requireApproval=False)
    projects = patch(curator_client, rule, projectIdList=["CUP", "PanCan"])

    assert approval_off.status_code == 403
    message = approval_off.json()["message"]
    assert message.startswith(
        f"Auto-share rule 'cup-approved' pushes to {ADMINS_ONLY}: switching requireApproval off, "
        "or enabling a rule that runs without approval, needs the right to push there directly."
    )
    assert f"Destination {ADMINS_ONLY} is not in the allowed destinations" in message
    assert approval_off.json()["details"] == {"shareDestination": ADMINS_ONLY}
    assert projects.status_code == 403
    assert (
        "every change to a rule needs the right to push to its destination"
        in (projects.json()["message"])
    )
    assert stored(rule) == before
    assert before["require_approval"] is True and before["changed_by_id"] == admin_user.pk

    # The next run still waits for an approver; nothing is pushed.
    with django_capture_on_commit_callbacks(execute=True):
        evaluate()
    share = AutoShare.objects.get(rule=rule)
    assert share.status == AutoShareStatus.AWAITING_APPROVAL, share.error
    assert share.push_job is None
    assert not PushJob.objects.exists()


def test_a_curator_cannot_enable_their_unapproved_rule_once_its_destination_left_the_list(
    allowed: None, demo_catalog: Path, curator_client: APIClient
) -> None:
    rule = create_rule(curator_client, jobName="cup-off", requireApproval=False, enabled=False)
    AllowedDestination.objects.filter(prefix=ALLOWED_PREFIX).delete()

    refused = patch(curator_client, rule, enabled=True)

    assert refused.status_code == 403
    assert "switching requireApproval off, or enabling a rule" in refused.json()["message"]
    rule.refresh_from_db()
    assert rule.enabled is False
    # Still disabled: the run makes no share and no package.
    assert "cup-off" not in evaluate()
    assert not AutoShare.objects.exists()
    assert not Package.objects.exists()


def test_an_owner_who_lost_the_destination_may_still_disable_the_rule_or_require_approval(
    allowed: None, curator_client: APIClient
) -> None:
    rule = create_rule(curator_client, jobName="cup-lost", requireApproval=False, enabled=True)
    AllowedDestination.objects.filter(prefix=ALLOWED_PREFIX).delete()

    # Changes that only make the rule do less need no right to push there ...
    assert patch(curator_client, rule, requireApproval=True).status_code == 200
    assert patch(curator_client, rule, enabled=False).status_code == 200
    rule.refresh_from_db()
    assert (rule.enabled, rule.require_approval) == (False, True)
    # ... anything else still does, even together with a restricting change.
    refused = patch(curator_client, rule, enabled=False, projectIdList=["PanCan"])
    assert refused.status_code == 403
    assert patch(curator_client, rule, enabled=True).status_code == 403
    rule.refresh_from_db()
    assert rule.enabled is False


def test_an_owner_who_may_push_there_switches_approval_off_and_is_recorded(
    allowed: None, curator_client: APIClient, curator: User, admin_user: User
) -> None:
    rule = create_rule(curator_client, requireApproval=True)
    assert (rule.created_by, rule.changed_by) == (curator, curator)
    AutoShareRule.objects.filter(pk=rule.pk).update(changed_by=admin_user)

    response = patch(curator_client, rule, requireApproval=False)

    assert response.status_code == 200, response.json()
    assert response.json()["requireApproval"] is False
    rule.refresh_from_db()
    assert (rule.require_approval, rule.changed_by, rule.created_by) == (False, curator, curator)


def test_automatic_pushes_are_judged_for_the_last_editor(
    allowed: None,
    demo_catalog: Path,
    curator_client: APIClient,
    curator: User,
    django_capture_on_commit_callbacks: Any,
) -> None:
    rule = create_rule(curator_client, jobName="cup-direct", requireApproval=False)
    # The curator may no longer push there: the rule keeps running, its push is refused.
    AllowedDestination.objects.filter(prefix=ALLOWED_PREFIX).delete()

    with django_capture_on_commit_callbacks(execute=True):
        evaluate()

    share = AutoShare.objects.get(rule=rule)
    assert share.status == AutoShareStatus.FAILED
    assert f"Destination {ALLOWED} is not in the allowed destinations" in share.error
    assert share.push_job is None
    assert rule.changed_by == curator


# --- Finding (d): curators and each other's rules; admins -----------------------------------------


def test_curators_cannot_edit_or_delete_each_others_rules_but_admins_can(
    allowed: None,
    curator_client: APIClient,
    other_curator: User,
    admin_client_api: APIClient,
    admin_user: User,
    curator: User,
) -> None:
    rule = create_rule(curator_client, jobName="cora-rule")
    otto = client_for(other_curator)
    before = stored(rule)

    edited = patch(otto, rule, enabled=False)
    deleted = otto.delete(f"{URL}/{rule.pk}")

    assert edited.status_code == 403
    assert edited.json()["message"] == not_theirs(rule, "cora-curator")
    assert deleted.status_code == 403
    assert deleted.json()["message"] == not_theirs(rule, "cora-curator", "delete")
    assert stored(rule) == before

    assert patch(admin_client_api, rule, enabled=False).status_code == 200
    rule.refresh_from_db()
    assert (rule.enabled, rule.created_by, rule.changed_by) == (False, curator, admin_user)
    assert admin_client_api.delete(f"{URL}/{rule.pk}").status_code == 204
    assert not AutoShareRule.objects.exists()


def test_an_owner_deletes_their_rule(allowed: None, curator_client: APIClient) -> None:
    rule = create_rule(curator_client)
    assert curator_client.delete(f"{URL}/{rule.pk}").status_code == 204
    assert not AutoShareRule.objects.exists()


def test_viewers_strangers_and_anonymous_users_change_no_rule(
    allowed: None,
    curator_client: APIClient,
    viewer_client: APIClient,
    stranger_client: APIClient,
    anon_client: APIClient,
) -> None:
    rule = create_rule(curator_client)
    before = stored(rule)
    for client, status in ((viewer_client, 403), (stranger_client, 403), (anon_client, 401)):
        assert patch(client, rule, enabled=False).status_code == status
        assert client.delete(f"{URL}/{rule.pk}").status_code == status
    assert stored(rule) == before


def test_a_rule_without_an_owner_is_the_admins(
    allowed: None, tmp_path: Path, curator_client: APIClient, admin_client_api: APIClient
) -> None:
    jobs = tmp_path / "jobs.json"
    jobs.write_text(json.dumps([rule_body(jobName="imported")]))
    call_command("import_auto_jobs", str(jobs))
    rule = AutoShareRule.objects.get()
    assert (rule.created_by, rule.changed_by) == (None, None)

    refused = patch(curator_client, rule, enabled=False)

    assert refused.status_code == 403
    assert refused.json()["message"] == (
        "Auto-share rule 'imported' has no owner (made by automation or a command without a "
        "user): only an admin may change it."
    )
    assert patch(admin_client_api, rule, enabled=False).status_code == 200


# --- import_auto_jobs --user: the same rules ------------------------------------------------------


def import_jobs(tmp_path: Path, jobs: list[dict[str, Any]], *options: str) -> dict[str, int]:
    path = tmp_path / "jobs.json"
    path.write_text(json.dumps(jobs))
    output = tmp_path / "out.txt"
    with output.open("w") as stdout:
        call_command("import_auto_jobs", str(path), *options, stdout=stdout)
    counts: dict[str, int] = json.loads(output.read_text())
    return counts


def test_import_as_a_curator_cannot_change_another_curators_rule(
    allowed: None, tmp_path: Path, curator: User, other_curator: User
) -> None:
    otto = create_rule(client_for(other_curator), jobName="otto-rule")
    before = stored(otto)
    job = rule_body(jobName="otto-rule", projectIdList=["CUP", "PanCan"])

    with pytest.raises(CommandError) as error:
        import_jobs(tmp_path, [rule_body(jobName="new-one"), job], "--user", curator.username)

    assert f"[1]: {not_theirs(otto, 'otto-curator')}" in str(error.value)
    assert stored(otto) == before
    assert not AutoShareRule.objects.filter(job_name="new-one").exists()  # all or nothing


def test_import_restating_another_users_rule_unchanged_needs_no_rights(
    allowed: None, tmp_path: Path, curator: User, other_curator: User
) -> None:
    create_rule(client_for(other_curator), jobName="otto-rule")
    job = rule_body(jobName="otto-rule")
    assert import_jobs(tmp_path, [job], "--as-user", curator.username) == {
        "created": 0,
        "updated": 0,
        "unchanged": 1,
    }


def test_import_as_a_curator_is_judged_against_their_destination_rights(
    allowed: None, tmp_path: Path, curator: User, admin_user: User, admin_client_api: APIClient
) -> None:
    mine = create_rule(client_for(curator), jobName="mine")
    assert patch(admin_client_api, mine, shareDestination=ADMINS_ONLY).status_code == 200
    job = rule_body(jobName="mine", shareDestination=ADMINS_ONLY, requireApproval=False)

    with pytest.raises(CommandError) as error:
        import_jobs(tmp_path, [job], "--as-user", curator.username)

    assert "[0].shareDestination: Auto-share rule 'mine' pushes to" in str(error.value)
    assert "switching requireApproval off" in str(error.value)
    mine.refresh_from_db()
    assert (mine.require_approval, mine.changed_by) == (True, admin_user)


def test_import_records_its_user_as_creator_and_editor_and_admins_change_any_rule(
    allowed: None, tmp_path: Path, curator: User, admin_user: User
) -> None:
    assert import_jobs(tmp_path, [rule_body(jobName="cup")], "--user", curator.username) == {
        "created": 1,
        "updated": 0,
        "unchanged": 0,
    }
    rule = AutoShareRule.objects.get()
    assert (rule.created_by, rule.changed_by) == (curator, curator)

    changed = rule_body(jobName="cup", shareDestination=ADMINS_ONLY, requireApproval=False)
    assert import_jobs(tmp_path, [changed], "--user", admin_user.username)["updated"] == 1
    rule.refresh_from_db()
    assert (rule.share_destination, rule.created_by, rule.changed_by) == (
        ADMINS_ONLY,
        curator,
        admin_user,
    )


def test_import_without_a_user_is_held_to_the_allow_list_for_changes_too(
    allowed: None, tmp_path: Path, admin_client_api: APIClient
) -> None:
    rule = create_rule(admin_client_api, jobName="admins", shareDestination=ADMINS_ONLY)
    with pytest.raises(CommandError) as error:
        import_jobs(
            tmp_path,
            [rule_body(jobName="admins", shareDestination=ADMINS_ONLY, projectIdList=["PanCan"])],
        )
    assert "[0].shareDestination: Auto-share rule 'admins' pushes to" in str(error.value)
    assert stored(rule)["project_ids"] == ["CUP"]


# --- The admin site -------------------------------------------------------------------------------

RULE_PERMISSIONS = tuple(
    f"automation_app.{action}_autosharerule" for action in ("view", "add", "change", "delete")
)


def admin_form(rule: AutoShareRule, **changes: Any) -> dict[str, str]:
    """The change form of `rule` as posted, with `changes` (booleans as True/False)."""
    values: dict[str, Any] = {
        "job_name": rule.job_name,
        "enabled": rule.enabled,
        "project_ids": rule.project_ids,
        "data_types": rule.data_types,
        "secondary_analysis_types": rule.secondary_analysis_types,
        "share_destination": rule.share_destination,
        "require_approval": rule.require_approval,
        "slack_channel": rule.slack_channel,
        "notify_emails": rule.notify_emails,
        "slack_approvers": rule.slack_approvers,
        **changes,
    }
    form = {}
    for name, value in values.items():
        if isinstance(value, bool):
            if value:
                form[name] = "on"
        elif isinstance(value, list):
            form[name] = json.dumps(value)
        else:
            form[name] = value
    return form


def change_url(rule: AutoShareRule) -> str:
    return f"/admin/automation_app/autosharerule/{rule.pk}/change/"


def test_a_staff_curator_sees_another_curators_rule_read_only_in_the_admin(
    allowed: None, curator: User, other_curator: User
) -> None:
    theirs = create_rule(client_for(other_curator), jobName="otto-rule")
    before = stored(theirs)
    browser = staff_client(curator, *RULE_PERMISSIONS)

    page = browser.get(change_url(theirs))
    posted = browser.post(change_url(theirs), admin_form(theirs, require_approval=False))
    delete_page = browser.get(f"/admin/automation_app/autosharerule/{theirs.pk}/delete/")

    assert page.status_code == 200
    assert page.context["has_change_permission"] is False
    assert page.context["has_delete_permission"] is False
    assert posted.status_code == 403
    assert delete_page.status_code == 403
    assert stored(theirs) == before


def test_the_admin_bulk_delete_refuses_a_selection_with_another_curators_rule(
    allowed: None, curator: User, other_curator: User
) -> None:
    mine = create_rule(client_for(curator), jobName="cora-rule")
    theirs = create_rule(client_for(other_curator), jobName="otto-rule")
    browser = staff_client(curator, *RULE_PERMISSIONS)
    action = {"action": "delete_selected", "_selected_action": [mine.pk, theirs.pk], "post": "yes"}

    refused = browser.post("/admin/automation_app/autosharerule/", action)

    assert refused.status_code == 403
    assert AutoShareRule.objects.count() == 2
    own_only = browser.post(
        "/admin/automation_app/autosharerule/", {**action, "_selected_action": [mine.pk]}
    )
    assert own_only.status_code == 302
    assert list(AutoShareRule.objects.values_list("job_name", flat=True)) == ["otto-rule"]


def test_the_admin_form_judges_every_change_against_the_editors_destination_rights(
    allowed: None, curator: User, admin_client_api: APIClient, admin_user: User
) -> None:
    mine = create_rule(client_for(curator), jobName="cora-rule")
    browser = staff_client(curator, *RULE_PERMISSIONS)

    # Allowed destination: the owner's change is saved and recorded.
    saved = browser.post(change_url(mine), admin_form(mine, project_ids=["CUP", "PanCan"]))
    assert saved.status_code == 302
    mine.refresh_from_db()
    assert (mine.project_ids, mine.changed_by) == (["CUP", "PanCan"], curator)

    # Moved by an admin where the curator may not push: the owner can no longer change it.
    assert patch(admin_client_api, mine, shareDestination=ADMINS_ONLY).status_code == 200
    mine.refresh_from_db()
    before = stored(mine)
    refused = browser.post(change_url(mine), admin_form(mine, require_approval=False))
    assert refused.status_code == 200  # the form again, with the error
    assert "switching requireApproval off" in refused.content.decode()
    assert stored(mine) == before
    assert before["changed_by_id"] == admin_user.pk


def test_an_admin_changes_another_users_rule_in_the_admin(
    allowed: None, curator: User, admin_user: User
) -> None:
    theirs = create_rule(client_for(curator), jobName="cora-rule")
    browser = staff_client(admin_user, *RULE_PERMISSIONS)

    response = browser.post(
        change_url(theirs), admin_form(theirs, share_destination=ADMINS_ONLY, enabled=False)
    )

    assert response.status_code == 302
    theirs.refresh_from_db()
    assert (theirs.share_destination, theirs.enabled) == (ADMINS_ONLY, False)
    assert (theirs.created_by, theirs.changed_by) == (curator, admin_user)


# --- The migration --------------------------------------------------------------------------------


def test_the_migration_makes_the_creator_the_editor_of_rules_nobody_changed(
    curator: User, admin_user: User
) -> None:
    migration = importlib.import_module("automation_app.migrations.0004_rule_changed_by")
    fields = {"project_ids": ["CUP"], "data_types": ["fastq"], "share_destination": ALLOWED}
    untouched = AutoShareRule.objects.create(job_name="old", created_by=curator, **fields)
    moved = AutoShareRule.objects.create(
        job_name="moved", created_by=curator, changed_by=admin_user, **fields
    )

    migration.editor_from_creator(apps, None)

    untouched.refresh_from_db()
    moved.refresh_from_db()
    assert (untouched.changed_by, moved.changed_by) == (curator, admin_user)
