from django.db import migrations, models

APPROVE = "approve_autoshare"


def curators_may_approve(apps, schema_editor):
    """Curators (who push packages themselves) may approve automatic shares; admins may anyway.
    The permission row is created here: Django creates permissions only after all migrations."""
    content_type_model = apps.get_model("contenttypes", "ContentType")
    permission_model = apps.get_model("auth", "Permission")
    group_model = apps.get_model("auth", "Group")
    content_type, _ = content_type_model.objects.get_or_create(
        app_label="automation_app", model="autoshare"
    )
    permission, _ = permission_model.objects.get_or_create(
        content_type=content_type,
        codename=APPROVE,
        defaults={"name": "Can approve or reject automatic shares"},
    )
    curator, _ = group_model.objects.get_or_create(name="curator")
    curator.permissions.add(permission)


def curators_may_not_approve(apps, schema_editor):
    permission_model = apps.get_model("auth", "Permission")
    group_model = apps.get_model("auth", "Group")
    for permission in permission_model.objects.filter(
        content_type__app_label="automation_app", codename=APPROVE
    ):
        for group in group_model.objects.filter(name="curator"):
            group.permissions.remove(permission)


class Migration(migrations.Migration):
    dependencies = [
        ("automation_app", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("datasharing", "0001_role_groups"),
    ]

    operations = [
        migrations.AddField(
            model_name="autoshare",
            name="decision_comment",
            field=models.CharField(
                blank=True,
                help_text="What the approver said when approving or rejecting.",
                max_length=1000,
            ),
        ),
        migrations.RunPython(curators_may_approve, curators_may_not_approve),
    ]
