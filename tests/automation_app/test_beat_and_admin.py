"""Periodic tasks are registered once with the tasks they name, and the rule admin validates
like the API."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.test import Client

from automation_app.models import AutoShareRule
from datasharing.beat import registered_periodic_tasks
from datasharing.celery import app


def test_periodic_tasks_are_registered_and_exist() -> None:
    app.loader.import_default_modules()
    specs = {spec.name: spec.task for spec in registered_periodic_tasks()}
    assert specs["automatic sharing: reconciliation"] == "automation_app.auto_shares_reconcile"
    assert (
        specs["packages: delete artifacts of expired packages"]
        == "packages_app.packages_expire_artifacts"
    )
    # Restore polling stays with its app; stuck jobs of every kind have one reaper.
    assert specs["packages: poll archive restores"] == "packages_app.packages_restores_poll"
    assert specs["jobs: recover stuck jobs"] == "datasharing.jobs_reap"
    assert len(set(specs.values())) == len(specs)
    assert set(specs.values()) <= set(app.tasks)


def test_admin_rule_form_refuses_what_the_api_refuses(db: Any) -> None:
    User.objects.create_superuser("root-admin", "root@example.org", "pw-for-tests-only")
    client = Client()
    client.login(username="root-admin", password="pw-for-tests-only")
    form = {
        "job_name": "admin-rule",
        "enabled": "on",
        "project_ids": '["CUP"]',
        "data_types": '["bam"]',
        "secondary_analysis_types": "[]",
        "share_destination": "s3://recipient-bucket/x",
        "slack_channel": "",
        "notify_emails": "[]",
        "slack_approvers": "[]",
    }
    response = client.post("/admin/automation_app/autosharerule/add/", form)
    assert response.status_code == 200
    assert "dataTypeList: unknown data type" in response.content.decode()
    assert not AutoShareRule.objects.exists()

    response = client.post(
        "/admin/automation_app/autosharerule/add/", {**form, "data_types": '["fastq"]'}
    )
    assert response.status_code == 302
    rule = AutoShareRule.objects.get()
    assert rule.share_destination == "s3://recipient-bucket/x/"
    assert rule.created_by is not None and rule.created_by.username == "root-admin"
