"""`destination_set_by` becomes `changed_by`: every change to a rule is now judged against its
editor's destination rights, so automatic pushes are judged for whoever changed the rule last.
Rules nobody has changed since the destination was recorded keep that user; older rules get
their creator, as automatic pushes used before."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def editor_from_creator(apps, schema_editor):
    rule_model = apps.get_model("automation_app", "AutoShareRule")
    rule_model.objects.filter(changed_by__isnull=True).update(changed_by=models.F("created_by"))


class Migration(migrations.Migration):
    dependencies = [
        ("automation_app", "0003_rule_destination_set_by"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RenameField(
            model_name="autosharerule", old_name="destination_set_by", new_name="changed_by"
        ),
        migrations.AlterField(
            model_name="autosharerule",
            name="changed_by",
            field=models.ForeignKey(
                blank=True,
                help_text="Who created or last changed the rule: automatic pushes are judged for "
                "them.",
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.RunPython(editor_from_creator, migrations.RunPython.noop),
    ]
