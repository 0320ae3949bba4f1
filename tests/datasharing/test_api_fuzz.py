"""The API against its own OpenAPI document: schemathesis, every check, every operation.

Each operation is one test: a bounded, derandomized number of generated requests (positive and
negative, plus schemathesis' coverage and example phases) goes through the Django WSGI app in
this process, against the test database with real rows (a SUCCEEDED package with files in S3, a
push, a presign, a rule, an automatic share awaiting approval) whose ids replace the generated
path ids of positive cases. A failure names the check (server error, undocumented status,
schema-valid request rejected, schema-violating request accepted, response not as documented)
and prints a curl to reproduce it.

`FUZZ_MAX_EXAMPLES` raises the bound for a longer run (e.g. 200 before a release).
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import schemathesis
from django.conf import settings as django_settings
from django.contrib.auth.models import User
from django.core import signals
from django.db import close_old_connections, transaction
from django.utils import timezone
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig

from automation_app.models import AutoShare, AutoShareRule, AutoShareStatus
from catalog_app.models import SequencingRun
from datasharing import s3
from datasharing.tokens import api_token_create
from datasharing.wsgi import application
from packages_app.models import DataType, Package, PackageFile, PackageLibrary, PackageStatus
from sharing_app.presign.models import Presign
from sharing_app.push.models import PushJob, PushStatus
from tests.conftest import make_user

MAX_EXAMPLES = int(os.environ.get("FUZZ_MAX_EXAMPLES", "15"))
FUZZ_BUCKET = "api-fuzz-source"

# Requests the document cannot describe as invalid, answered 400 on purpose (schema-valid, but
# refused for what they say, not for their shape).
_SEMANTIC_400 = [
    # Unknown library/subject/project/run ids, fields that conflict (two selecting lists,
    # portalRunIdList without secondaryAnalysis), a request that selects nothing: SPEC §11.
    {"include-operation-id": ["package_create", "package_dry_run"]},
    # The upload is not a UTF-8 CSV with the expected columns (named row and column).
    {
        "include-operation-id": [
            "catalog_import_lims",
            "catalog_import_workflows",
            "catalog_import_fastq_list",
        ]
    },
    # A jobName already in use; secondaryAnalysisTypeList without secondaryAnalysis.
    {"include-operation-id": ["auto_share_rule_create", "auto_share_rule_update"]},
    # A destination whose prefix makes a file's key longer than S3's 1024 bytes.
    {"include-operation-id": ["package_push"]},
    # A bucket that does not exist, or that the service may not list.
    {"include-operation-id": ["catalog_sync_storage"]},
]
_DEFAULT_ACCEPTED = ["2xx", "401", "403", "404", "409"]

CONFIG = SchemathesisConfig.from_dict(
    {
        "seed": 1,
        "generation": {
            "max-examples": MAX_EXAMPLES,
            "allow-x00": True,
            "deterministic": True,
            "database": "none",
            # The admin's token is sent with every request; schemathesis' own auth checks send
            # requests without it and with a forged one.
            "with-security-parameters": False,
        },
        "operations": [
            {
                **selector,
                "checks": {
                    "positive_data_acceptance": {"expected-statuses": [*_DEFAULT_ACCEPTED, 400]}
                },
            }
            for selector in _SEMANTIC_400
        ],
    }
)
# Loaded at collection: the schema view needs no database. The health endpoints answer 503
# without the session's artifact bucket or a worker, take no input, and are tested on their own.
schema = schemathesis.openapi.from_wsgi("/schema/openapi.json", application, config=CONFIG)
schema = schema.exclude(path_regex="^/healthz")

PACKAGE_ID = "pkg.01J9Z000000000000000000F22"
PUSH_JOB_ID = "psh.01J9Z000000000000000000F22"
PRESIGN_ID = "prs.01J9Z000000000000000000F22"
SHARE_ID = "ash.01J9Z000000000000000000F22"
RULE_ID = 4242


@dataclass(frozen=True)
class FuzzData:
    token: str
    path_ids: dict[str, Any]


@pytest.fixture(scope="session")
def fuzz_objects() -> list[tuple[str, str]]:
    """Two small FASTQ objects in the session's S3 (presign signs them, reports list them)."""
    s3.ensure_bucket(FUZZ_BUCKET)
    # Deleting a package deletes its artifacts there.
    s3.ensure_bucket(django_settings.ARTIFACT_BUCKET)
    keys = []
    for library in ("L2400101", "L2400102"):
        key = f"fastq/RUN1/{library}_R1.fastq.gz"
        s3.put_object(FUZZ_BUCKET, key, f"@{library}\nACGT\n+\nIIII\n".encode())
        keys.append((library, key))
    return keys


def _package(user: User, objects: list[tuple[str, str]]) -> Package:
    now = timezone.now()
    package = Package.objects.create(
        id=PACKAGE_ID,
        package_name="fuzz-package",
        status=PackageStatus.SUCCEEDED,
        request={"library_id_list": [lib for lib, _ in objects], "data_type_list": ["fastq"]},
        requested_by=user,
        start_time=now,
        completion_time=now,
        expires_at=now + dt.timedelta(days=30),
        file_count=len(objects),
        library_count=len(objects),
    )
    for library, key in objects:
        info = s3.head_object(FUZZ_BUCKET, key)
        assert info is not None
        PackageFile.objects.create(
            package=package,
            relative_path=key,
            data_type=DataType.FASTQ,
            source_bucket=FUZZ_BUCKET,
            source_key=key,
            size=info.size,
            etag=info.etag,
            storage_class=info.storage_class,
            library_id=library,
        )
        PackageLibrary.objects.create(package=package, library_id=library, metadata={})
    return package


@pytest.fixture
def fuzz_data(db: Any, fuzz_objects: list[tuple[str, str]], settings: Any) -> Iterator[FuzzData]:
    """An admin's token and one row of each kind the path ids name."""
    # Signed Slack requests are checked (the timestamp is parsed) only with a secret.
    settings.SLACK_SIGNING_SECRET = "fuzz-signing-secret"
    admin = make_user("fuzz-admin", "admin")
    _, token = api_token_create(user=admin)
    package = _package(admin, fuzz_objects)
    now = timezone.now()
    PushJob.objects.create(
        id=PUSH_JOB_ID,
        package=package,
        package_name=package.package_name,
        share_destination="s3://fuzz-destination/incoming/",
        destination_type="s3",
        destination_bucket="fuzz-destination",
        destination_prefix="incoming/",
        status=PushStatus.RUNNING,
        requested_by=admin,
        requested_by_name=admin.username,
        start_time=now,
    )
    Presign.objects.create(
        id=PRESIGN_ID,
        package=package,
        package_name=package.package_name,
        created_by=admin,
        created_at=now,
        file_url_expiry_seconds=3600,
        file_urls_expire_at=now + dt.timedelta(hours=1),
        script_url_expires_at=now + dt.timedelta(hours=1),
        file_count=2,
        total_bytes=0,
        script_bucket=FUZZ_BUCKET,
        script_key="presigns/fuzz/download-data.fuzz-package.sh",
        script_bytes=0,
        script_sha256="0" * 64,
        signer="test",
        duration_ms=1,
    )
    rule = AutoShareRule.objects.create(
        pk=RULE_ID,
        job_name="fuzz-rule",
        project_ids=["CUP"],
        data_types=["fastq"],
        share_destination="s3://fuzz-destination/auto/",
        require_approval=True,
        created_by=admin,
    )
    AutoShare.objects.create(
        id=SHARE_ID,
        rule=rule,
        run=SequencingRun.objects.create(instrument_run_id="241114_A01052_0001_FUZZ"),
        status=AutoShareStatus.AWAITING_APPROVAL,
        package=package,
        share_destination=rule.share_destination,
    )
    # As django.test.Client does: the WSGI handler must not close the test's connection.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield FuzzData(
            token=token,
            path_ids={
                "package_id": PACKAGE_ID,
                "push_job_id": PUSH_JOB_ID,
                "presign_id": PRESIGN_ID,
                "share_id": SHARE_ID,
                "rule_id": RULE_ID,
            },
        )
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_api_answers_as_documented(case: Any, fuzz_data: FuzzData) -> None:
    if case.meta is not None and case.meta.generation.mode.is_positive and case.path_parameters:
        # Real rows, so that valid requests reach past the 404 of an unknown id.
        for name in case.path_parameters:
            if name in fuzz_data.path_ids:
                case.path_parameters[name] = fuzz_data.path_ids[name]
    # One savepoint per request: a request the database refuses must not poison the next ones.
    # Rolled back, so every request finds the same rows.
    with transaction.atomic():
        try:
            case.call_and_validate(headers={"Authorization": f"Bearer {fuzz_data.token}"})
        finally:
            transaction.set_rollback(True)


APIWorkflow = schema.as_state_machine()


def test_api_workflows_answer_as_documented(fuzz_data: FuzzData) -> None:
    """Sequences of operations along the links schemathesis infers (an id a response returns
    fed to the operations that take it), each scenario rolled back."""

    class Workflow(APIWorkflow):  # type: ignore[misc, valid-type]
        def setup(self) -> None:
            self.savepoint = transaction.savepoint()

        def teardown(self) -> None:
            transaction.savepoint_rollback(self.savepoint)

    # As configured headers, so that schemathesis knows them for valid credentials (its auth
    # checks then probe without them and with forged ones).
    config = Workflow.schema.config
    saved = config.headers
    config.headers = {"Authorization": f"Bearer {fuzz_data.token}"}
    try:
        Workflow.run(
            settings=settings(
                max_examples=MAX_EXAMPLES,
                stateful_step_count=6,
                deadline=None,
                derandomize=True,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
        )
    finally:
        config.headers = saved
