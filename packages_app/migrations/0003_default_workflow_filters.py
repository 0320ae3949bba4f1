"""Install the default workflow file filters (packages_app/workflow_filters/defaults.py)."""

from django.db import migrations


def install_defaults(apps, schema_editor):
    from packages_app.workflow_filters.defaults import seed_default_filters

    seed_default_filters(
        apps.get_model("packages_app", "WorkflowFileFilter"),
        apps.get_model("packages_app", "WorkflowFileFilterRule"),
        only_if_empty=False,
    )


def remove_defaults(apps, schema_editor):
    from packages_app.workflow_filters.defaults import DEFAULT_WORKFLOW_FILTERS

    apps.get_model("packages_app", "WorkflowFileFilter").objects.filter(
        workflow_name__in=[spec["workflow_name"] for spec in DEFAULT_WORKFLOW_FILTERS]
    ).delete()


class Migration(migrations.Migration):
    dependencies = [("packages_app", "0002_lifecycle_and_workflow_filters")]
    operations = [migrations.RunPython(install_defaults, remove_defaults)]
