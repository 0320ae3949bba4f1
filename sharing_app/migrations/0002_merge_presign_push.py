# Presign and push were built side by side, each with its own initial migration.
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("sharing_app", "0001_presign"),
        ("sharing_app", "0001_push"),
    ]
    operations: list[migrations.operations.base.Operation] = []
