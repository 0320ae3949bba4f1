# Squashes 0001_presign, 0001_push and 0002_merge_presign_push (presign and push were built side
# by side). Databases that applied those are recognised through `replaces`.

from django.conf import settings
from django.db import migrations, models
import django.db.models.deletion
import django.utils.timezone
import sharing_app.presign.models
import sharing_app.push.models


class Migration(migrations.Migration):

    initial = True

    replaces = [
        ("sharing_app", "0001_presign"),
        ("sharing_app", "0001_push"),
        ("sharing_app", "0002_merge_presign_push"),
    ]

    dependencies = [
        ('packages_app', '0001_initial'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='Presign',
            fields=[
                ('id', models.CharField(default=sharing_app.presign.models.new_presign_id, editable=False, max_length=40, primary_key=True, serialize=False)),
                ('package_name', models.CharField(max_length=255)),
                ('created_at', models.DateTimeField(db_index=True, default=django.utils.timezone.now)),
                ('file_url_expiry_seconds', models.PositiveIntegerField()),
                ('file_urls_expire_at', models.DateTimeField()),
                ('script_url_expires_at', models.DateTimeField()),
                ('file_count', models.PositiveIntegerField()),
                ('total_bytes', models.BigIntegerField()),
                ('script_bucket', models.CharField(max_length=63)),
                ('script_key', models.CharField(max_length=1024)),
                ('script_bytes', models.BigIntegerField()),
                ('script_sha256', models.CharField(max_length=64)),
                ('signer', models.CharField(max_length=16)),
                ('duration_ms', models.PositiveIntegerField(help_text='Time to build and store the script.')),
                ('created_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='presigns', to=settings.AUTH_USER_MODEL)),
                ('package', models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.DO_NOTHING, related_name='presigns', to='packages_app.package')),
            ],
            options={
                'ordering': ['-created_at', '-id'],
                'indexes': [models.Index(fields=['-created_at', '-id'], name='presign_newest_first_idx'), models.Index(fields=['package', '-created_at'], name='presign_package_idx')],
                'constraints': [models.CheckConstraint(condition=models.Q(('file_urls_expire_at__gt', models.F('created_at'))), name='presign_expires_after_creation'), models.CheckConstraint(condition=models.Q(('script_url_expires_at__lte', models.F('file_urls_expire_at'))), name='presign_script_url_not_beyond_file_urls'), models.CheckConstraint(condition=models.Q(('total_bytes__gte', 0)), name='presign_total_bytes_non_negative')],
            },
        ),

        migrations.CreateModel(
            name='AllowedDestination',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('prefix', models.CharField(help_text='s3://bucket/prefix/ or icav2://<project id or name>/<folder>/ (pushes to this place or below it are allowed).', max_length=1024, unique=True)),
                ('description', models.CharField(blank=True, max_length=255)),
                ('enabled', models.BooleanField(default=True)),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('created_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'ordering': ['prefix'],
            },
        ),
        migrations.CreateModel(
            name='PushJob',
            fields=[
                ('id', models.CharField(default=sharing_app.push.models.new_push_job_id, editable=False, max_length=40, primary_key=True, serialize=False)),
                ('package_name', models.CharField(max_length=255)),
                ('share_destination', models.CharField(help_text="Normalised, ends with '/'.", max_length=1100)),
                ('destination_type', models.CharField(choices=[('s3', 'S3'), ('icav2', 'Icav2')], max_length=8)),
                ('destination_bucket', models.CharField(blank=True, max_length=63)),
                ('destination_prefix', models.CharField(blank=True, max_length=1024)),
                ('icav2_project', models.CharField(blank=True, help_text='As given (id or name).', max_length=255)),
                ('icav2_project_id', models.CharField(blank=True, max_length=64)),
                ('icav2_folder_path', models.CharField(blank=True, max_length=1024)),
                ('icav2_folder_id', models.CharField(blank=True, max_length=64)),
                ('status', models.CharField(choices=[('PENDING', 'Pending'), ('RUNNING', 'Running'), ('SUCCEEDED', 'Succeeded'), ('FAILED', 'Failed'), ('ABORTED', 'Aborted')], db_index=True, default='PENDING', max_length=16)),
                ('step', models.CharField(choices=[('queued', 'Queued'), ('planning', 'Planning'), ('copying', 'Copying'), ('finalizing', 'Finalizing'), ('done', 'Done')], default='queued', max_length=16)),
                ('requested_by_name', models.CharField(blank=True, max_length=150)),
                ('request_time', models.DateTimeField(db_index=True, default=django.utils.timezone.now)),
                ('start_time', models.DateTimeField(blank=True, null=True)),
                ('completion_time', models.DateTimeField(blank=True, null=True)),
                ('last_progress_time', models.DateTimeField(default=django.utils.timezone.now)),
                ('resume_count', models.PositiveIntegerField(default=0)),
                ('destination_was_empty', models.BooleanField(default=False)),
                ('error_message', models.TextField(blank=True)),
                ('file_count', models.PositiveIntegerField(default=0)),
                ('succeeded_count', models.PositiveIntegerField(default=0)),
                ('skipped_count', models.PositiveIntegerField(default=0)),
                ('failed_count', models.PositiveIntegerField(default=0)),
                ('total_bytes', models.BigIntegerField(default=0)),
                ('transferred_bytes', models.BigIntegerField(default=0)),
                ('package', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='push_jobs', to='packages_app.package')),
                ('requested_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='push_jobs', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'ordering': ['-request_time', '-id'],
                'permissions': [('push_to_any_destination', 'Can push packages to destinations outside the allowed list')],
            },
        ),
        migrations.CreateModel(
            name='PushFile',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('relative_path', models.CharField(max_length=1024)),
                ('data_type', models.CharField(blank=True, max_length=32)),
                ('source_bucket', models.CharField(max_length=63)),
                ('source_key', models.CharField(max_length=1024)),
                ('destination_uri', models.CharField(max_length=2100)),
                ('size', models.BigIntegerField()),
                ('source_etag', models.CharField(blank=True, max_length=100)),
                ('source_md5', models.CharField(blank=True, max_length=32)),
                ('source_sha256', models.CharField(blank=True, max_length=64)),
                ('destination_etag', models.CharField(blank=True, max_length=100)),
                ('verification_method', models.CharField(blank=True, choices=[('etag', "Size and ETag equal to the source's"), ('md5', "Size and destination ETag equal to the source's known MD5"), ('size+part-etags', 'Size, and ETag equal to the one assembled from the copied parts'), ('size+stream-md5', "Size, and MD5 of the bytes streamed equal to the source's MD5"), ('size', 'Size only (no comparable checksum)')], max_length=20)),
                ('status', models.CharField(choices=[('PENDING', 'Pending'), ('IN_PROGRESS', 'In Progress'), ('SUCCEEDED', 'Succeeded'), ('SKIPPED', 'Skipped'), ('FAILED', 'Failed'), ('ABORTED', 'Aborted')], default='PENDING', max_length=16)),
                ('attempts', models.PositiveSmallIntegerField(default=0)),
                ('error', models.TextField(blank=True)),
                ('claim_token', models.CharField(blank=True, db_index=True, max_length=32)),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('started_at', models.DateTimeField(blank=True, null=True)),
                ('heartbeat_at', models.DateTimeField(blank=True, null=True)),
                ('completed_at', models.DateTimeField(blank=True, null=True)),
                ('library_id', models.CharField(blank=True, db_index=True, max_length=100)),
                ('subject_id', models.CharField(blank=True, db_index=True, max_length=100)),
                ('external_subject_id', models.CharField(blank=True, db_index=True, max_length=255)),
                ('project_ids', models.CharField(blank=True, max_length=1024)),
                ('job', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='files', to='sharing_app.pushjob')),
            ],
            options={
                'ordering': ['job', 'relative_path'],
            },
        ),
        migrations.AddIndex(
            model_name='pushjob',
            index=models.Index(fields=['-request_time', '-id'], name='push_newest_first_idx'),
        ),
        migrations.AddIndex(
            model_name='pushjob',
            index=models.Index(fields=['package', '-request_time'], name='push_package_idx'),
        ),
        migrations.AddIndex(
            model_name='pushjob',
            index=models.Index(fields=['status', 'last_progress_time'], name='push_status_progress_idx'),
        ),
        migrations.AddConstraint(
            model_name='pushjob',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('completion_time__isnull', False), ('status__in', ('SUCCEEDED', 'FAILED', 'ABORTED'))), models.Q(models.Q(('status__in', ('SUCCEEDED', 'FAILED', 'ABORTED')), _negated=True), ('completion_time__isnull', True)), _connector='OR'), name='push_completion_time_iff_terminal'),
        ),
        migrations.AddConstraint(
            model_name='pushjob',
            constraint=models.CheckConstraint(condition=models.Q(('destination_type', 'icav2'), models.Q(('destination_type', 's3'), models.Q(('destination_bucket', ''), _negated=True)), _connector='OR'), name='push_s3_has_bucket'),
        ),
        migrations.AddConstraint(
            model_name='pushjob',
            constraint=models.UniqueConstraint(condition=models.Q(('status__in', ('PENDING', 'RUNNING'))), fields=('package', 'share_destination'), name='one_active_push_per_package_destination'),
        ),
        migrations.AddIndex(
            model_name='pushfile',
            index=models.Index(fields=['job', 'status'], name='push_file_job_status_idx'),
        ),
        migrations.AddIndex(
            model_name='pushfile',
            index=models.Index(fields=['job', 'id'], name='push_file_job_id_idx'),
        ),
        migrations.AddConstraint(
            model_name='pushfile',
            constraint=models.UniqueConstraint(fields=('job', 'relative_path'), name='uniq_push_file_per_job'),
        ),
        migrations.AddConstraint(
            model_name='pushfile',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('status__in', ('SUCCEEDED', 'SKIPPED')), _negated=True), models.Q(models.Q(('verification_method', ''), _negated=True), ('completed_at__isnull', False)), _connector='OR'), name='push_file_verified_when_done'),
        ),
    ]
