"""Settings for every deployment: all differences come from environment variables.

Embedded defaults (SQLite, filesystem broker) make `make run` work with nothing configured. The
local stack writes `var/local.env` (its S3 endpoint and credentials) so `manage.py` commands run in
the same checkout talk to the same instance; real environment variables always win over it.
"""

import os
import secrets
from pathlib import Path

import django_stubs_ext
import environ
from django.core.exceptions import ImproperlyConfigured

from datasharing.worker.liveness import (
    DEFAULT_CANARY_SECONDS,
    DEFAULT_HEARTBEAT_MAX_AGE_SECONDS,
    DEFAULT_UNRESPONSIVE_SECONDS,
)

# Lets `admin.ModelAdmin[Model]` and friends be subscripted at runtime (typed admin classes).
django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
# Local state of the embedded stack (SQLite, filesystem broker, static files, demo manifests,
# `make run`'s S3 data). Relative paths are taken from the checkout, as `make run` does.
VAR_DIR = BASE_DIR / env.str("VAR_DIR", default="var")
LOCAL_ENV_FILE = env.str("LOCAL_ENV_FILE", default=str(VAR_DIR / "local.env"))
if LOCAL_ENV_FILE and Path(LOCAL_ENV_FILE).is_file():
    environ.Env.read_env(LOCAL_ENV_FILE, overwrite=False)


def _secret(name: str) -> str:
    """A secret from `NAME_FILE` (a path, e.g. a mounted secret) or else from `NAME`."""
    path = env.str(f"{name}_FILE", default="")
    if path:
        return Path(path).read_text().strip()
    return env.str(name, default="")


def _embedded_secret_key() -> str:
    """The embedded stack's own key: made once per state directory, owner-only (never a key
    written in the code, which anyone could use to forge sessions)."""
    key_file = VAR_DIR / "secret-key"
    try:
        return key_file.read_text().strip()
    except FileNotFoundError:
        pass
    key = secrets.token_urlsafe(50)
    try:
        VAR_DIR.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return key_file.read_text().strip()  # another process made it first
    except OSError:
        return key  # a read-only checkout: this process's own key
    with os.fdopen(fd, "w") as handle:
        handle.write(key + "\n")
    return key


# `embedded` (make run, a checkout, the tests) or `production` (the container image sets it):
# production refuses to start without SECRET_KEY and an explicit ALLOWED_HOSTS, and defaults to
# secure cookies.
DEPLOYMENT = env.str("DEPLOYMENT", default="embedded")
if DEPLOYMENT not in ("embedded", "production"):
    raise ImproperlyConfigured(
        f"DEPLOYMENT must be 'embedded' or 'production', not {DEPLOYMENT!r}."
    )
PRODUCTION = DEPLOYMENT == "production"
SECRET_KEY = _secret("SECRET_KEY")
if not SECRET_KEY:
    if PRODUCTION:
        raise ImproperlyConfigured(
            "SECRET_KEY (or SECRET_KEY_FILE) must be set when DEPLOYMENT=production."
        )
    SECRET_KEY = _embedded_secret_key()
DEBUG = env.bool("DEBUG", default=False)
if PRODUCTION:
    ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=[])
    if not ALLOWED_HOSTS or "*" in ALLOWED_HOSTS:
        raise ImproperlyConfigured(
            "ALLOWED_HOSTS must list the host names the service answers to (not '*') when "
            "DEPLOYMENT=production."
        )
else:
    ALLOWED_HOSTS = env.list(
        "ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]", "testserver"]
    )
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
# Public base URL used in links we send out (Slack messages, emails, CLI hints).
PUBLIC_BASE_URL = env.str("PUBLIC_BASE_URL", default="http://127.0.0.1:8000")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "django_celery_beat",
    "datasharing",
    "catalog_app",
    "packages_app",
    "sharing_app",
    "automation_app",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "datasharing.urls"
WSGI_APPLICATION = "datasharing.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Web, worker and beat share one SQLite file in the embedded stack: WAL lets readers run
    # beside a writer and IMMEDIATE transactions avoid lock upgrades that deadlock.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
    }
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True

# Request size limits: uploads of CSV manifests are allowed up to CATALOG_UPLOAD_MAX_BYTES;
# JSON bodies beyond DATA_UPLOAD_MAX_MEMORY_SIZE get 413.
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=5 * 1024 * 1024)
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
CATALOG_UPLOAD_MAX_BYTES = env.int("CATALOG_UPLOAD_MAX_BYTES", default=200 * 1024 * 1024)

# --- REST API -------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "datasharing.auth.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["datasharing.auth.RolePermission"],
    "DEFAULT_RENDERER_CLASSES": [
        "djangorestframework_camel_case.render.CamelCaseJSONRenderer",
        "djangorestframework_camel_case.render.CamelCaseBrowsableAPIRenderer",
    ],
    # JSON bodies only; the CSV importers take multipart uploads (their own parser_classes).
    "DEFAULT_PARSER_CLASSES": ["datasharing.parsers.SafeCamelCaseJSONParser"],
    "JSON_UNDERSCOREIZE": {"no_underscore_before_number": True},
    "DEFAULT_PAGINATION_CLASS": "datasharing.pagination.EnvelopePagination",
    "PAGE_SIZE": 100,
    "EXCEPTION_HANDLER": "datasharing.errors.api_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "datasharing.schema.AutoSchema",
    "DEFAULT_VERSIONING_CLASS": None,
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    # `?format=` is a query parameter of the report endpoint, not a renderer override; every
    # other query key an operation does not declare is a 400 (datasharing.api.ApiView).
    "URL_FORMAT_OVERRIDE": None,
}
PAGINATION_MAX_ROWS_PER_PAGE = 1000

SPECTACULAR_SETTINGS = {
    "TITLE": "datasharing API",
    "DESCRIPTION": "Package sequencing data and share it: S3 and ICAv2 pushes, presigned downloads, automatic sharing.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "CAMELIZE_NAMES": False,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.contrib.djangorestframework_camel_case.camelize_serializer_fields",
        "drf_spectacular.hooks.postprocess_schema_enums",
        "datasharing.schema.error_responses_hook",
    ],
    # `rules/<rowid:rule_id>`: what datasharing.converters.RowIdConverter accepts.
    "PATH_CONVERTER_OVERRIDES": {
        "rowid": {"type": "integer", "minimum": 1, "maximum": 2**63 - 1},
    },
    "COMPONENT_SPLIT_REQUEST": True,
    "DEFAULT_GENERATOR_CLASS": "datasharing.schema.SchemaGenerator",
    "ENUM_NAME_OVERRIDES": {
        "PushStatusEnum": "sharing_app.push.models.PushStatus",
        "PushFileStatusEnum": "sharing_app.push.models.PushFileStatus",
        "AutoShareStatusEnum": "automation_app.models.AutoShareStatus",
        "ReceivedEventStatusEnum": "automation_app.events.models.EventStatus",
    },
}

# --- Celery -------------------------------------------------------------------------------
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
_FILESYSTEM_BROKER = CELERY_BROKER_URL.startswith("filesystem://")
# None: the transport the URL names.
CELERY_BROKER_TRANSPORT: str | None = None
if _FILESYSTEM_BROKER:
    _broker_dir = VAR_DIR / "broker"
    for _folder in ("queue", "processed", "control"):
        (_broker_dir / _folder).mkdir(parents=True, exist_ok=True)
    # kombu's filesystem transport with atomic writes and claims (datasharing/broker.py).
    CELERY_BROKER_TRANSPORT = "datasharing.broker:Transport"
    CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        # Consumers claim messages by renaming them here: the same file system as the queue.
        "processed_folder": str(_broker_dir / "processed"),
        # Broadcast (pidbox) exchanges: under the state directory, not ./control.
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
        # The worker sleeps this long whenever the queue is empty *or* its pool is full, so it
        # bounds throughput at about concurrency / interval tasks a second (1 s: ~2/s).
        "polling_interval": env.float("CELERY_BROKER_POLLING_INTERVAL", default=0.02),
    }
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=3600)
    }
    if env.str("CELERY_BROKER_KEY_PREFIX", default=""):
        # Lets several deployments (or test sessions) share one Redis without seeing each other.
        CELERY_BROKER_TRANSPORT_OPTIONS["global_keyprefix"] = env.str("CELERY_BROKER_KEY_PREFIX")
CELERY_TASK_DEFAULT_QUEUE = env.str("CELERY_TASK_DEFAULT_QUEUE", default="datasharing")
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
# Job state lives on our models; a task is acknowledged only once it has run, so a killed worker
# leaves it on the queue for another worker (tasks are idempotent by design). The filesystem
# broker deletes a message when it is delivered: there the jobs reaper recovers lost work.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# The worker's pool when its command line names none. With the filesystem broker Celery runs
# prefork as billiard's classic pool, which deadlocks when a pool process is killed (issue 16);
# the threads pool has no pool processes to lose and pushes are I/O-bound. Celery's threads pool
# does not enforce task time limits: the jobs reaper fails jobs that stop progressing. On Redis,
# prefork survives killed pool processes and keeps time limits.
CELERY_WORKER_POOL = env.str(
    "CELERY_WORKER_POOL", default="threads" if _FILESYSTEM_BROKER else "prefork"
)
# Empty: 4 threads, or one process per CPU for prefork.
CELERY_WORKER_CONCURRENCY = env.int(
    "CELERY_WORKER_CONCURRENCY", default=4 if CELERY_WORKER_POOL == "threads" else None
)
# Each worker also consumes its own queue: its canary reaches it and no other worker.
CELERY_WORKER_DIRECT = True
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=3000)
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=3600)
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = "UTC"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True

# --- Worker liveness (datasharing/worker/) --------------------------------------------------
# Every WORKER_CANARY_SECONDS each worker's main process sends a canary task to its own pool and
# records a heartbeat. A worker is unresponsive when it has sent no heartbeat for
# WORKER_HEARTBEAT_MAX_AGE_SECONDS, or when no canary ran and no task progressed for
# WORKER_UNRESPONSIVE_SECONDS. `/healthz` and `/healthz/ready` need one worker that is not.
WORKER_CANARY_SECONDS = env.float("WORKER_CANARY_SECONDS", default=DEFAULT_CANARY_SECONDS)
WORKER_UNRESPONSIVE_SECONDS = env.float(
    "WORKER_UNRESPONSIVE_SECONDS", default=DEFAULT_UNRESPONSIVE_SECONDS
)
WORKER_HEARTBEAT_MAX_AGE_SECONDS = env.float(
    "WORKER_HEARTBEAT_MAX_AGE_SECONDS", default=DEFAULT_HEARTBEAT_MAX_AGE_SECONDS
)
# An unresponsive worker kills its pool and exits (to be restarted: docker-compose.yml).
WORKER_WATCHDOG = env.bool("WORKER_WATCHDOG", default=False)
# Also write the heartbeat to this file (`make run`'s supervisor reads it); empty: no file.
WORKER_HEARTBEAT_FILE = env.str("WORKER_HEARTBEAT_FILE", default="")

# --- AWS / S3 -----------------------------------------------------------------------------
AWS_REGION = env.str("AWS_REGION", default=env.str("AWS_DEFAULT_REGION", default="ap-southeast-2"))
# Empty means AWS itself (default credential chain); set for S3-compatible stores.
AWS_ENDPOINT_URL_S3 = env.str("AWS_ENDPOINT_URL_S3", default="") or None
# Bucket and prefix where package artifacts (report, manifest, scripts) are written.
ARTIFACT_BUCKET = env.str("ARTIFACT_BUCKET", default="datasharing-artifacts")
ARTIFACT_PREFIX = env.str("ARTIFACT_PREFIX", default="packages/").strip("/")
S3_MAX_ATTEMPTS = env.int("S3_MAX_ATTEMPTS", default=8)
S3_CONNECT_TIMEOUT = env.float("S3_CONNECT_TIMEOUT", default=5.0)
S3_READ_TIMEOUT = env.float("S3_READ_TIMEOUT", default=60.0)
S3_MAX_POOL_CONNECTIONS = env.int("S3_MAX_POOL_CONNECTIONS", default=64)
# CopyObject (one per pushed file) signed and sent by our own code when it reproduces botocore's
# request exactly; anything but a successful copy is still parsed and retried by botocore.
S3_FAST_COPY = env.bool("S3_FAST_COPY", default=True)
# EventBridge bus for job state-change events; empty disables publishing.
EVENT_BUS_NAME = env.str("EVENT_BUS_NAME", default="")
EVENT_SOURCE = env.str("EVENT_SOURCE", default="orcabus.datasharing")
AWS_ENDPOINT_URL_EVENTS = env.str("AWS_ENDPOINT_URL_EVENTS", default="") or None

# --- Automatic sharing ---------------------------------------------------------------------
# SQS queue of platform events (EventBridge rule -> SQS) read by `manage.py listen_events`.
EVENTS_QUEUE_URL = env.str("EVENTS_QUEUE_URL", default="")
AWS_ENDPOINT_URL_SQS = env.str("AWS_ENDPOINT_URL_SQS", default="") or None
# Long-poll wait (1-20 s), messages per receive (1-10), and how long a received message stays
# invisible to other listeners (a crash mid-message makes it reappear after this).
EVENTS_WAIT_SECONDS = env.int("EVENTS_WAIT_SECONDS", default=20)
EVENTS_BATCH_SIZE = env.int("EVENTS_BATCH_SIZE", default=10)
EVENTS_VISIBILITY_TIMEOUT = env.int("EVENTS_VISIBILITY_TIMEOUT", default=300)
# Beat: how often catalogued runs that no event announced are evaluated, and how far back.
AUTO_SHARE_RECONCILE_SECONDS = env.int("AUTO_SHARE_RECONCILE_SECONDS", default=900)
AUTO_SHARE_LOOKBACK_HOURS = env.int("AUTO_SHARE_LOOKBACK_HOURS", default=72)

# --- Catalog --------------------------------------------------------------------------------
# Output URI of a workflow run when the workflow manifest has no output_uri column.
WORKFLOW_OUTPUT_URI_TEMPLATE = env.str(
    "WORKFLOW_OUTPUT_URI_TEMPLATE",
    default="s3://{bucket}/analysis/{workflow_name}/{portal_run_id}/",
)
WORKFLOW_OUTPUT_BUCKET = env.str("WORKFLOW_OUTPUT_BUCKET", default="demo-facility-analysis")
DEMO_PRIMARY_BUCKET = env.str("DEMO_PRIMARY_BUCKET", default="demo-facility-primary")
# S3 prefixes (`s3://bucket/prefix/`, comma-separated) the catalog may take data from, besides
# Admin > Catalog > Allowed sources: importers, sync-storage, events and packaging refuse
# anything else; the artifact bucket never is one. Embedded: the demo buckets. Production: none
# until configured (every import is refused, naming this setting).
_DEMO_SOURCES = [f"s3://{DEMO_PRIMARY_BUCKET}/", f"s3://{WORKFLOW_OUTPUT_BUCKET}/"]
CATALOG_ALLOWED_SOURCES = env.list(
    "CATALOG_ALLOWED_SOURCES", default=[] if PRODUCTION else _DEMO_SOURCES
)

# --- Presign ------------------------------------------------------------------------------
# Lifetime of the file URLs inside download scripts, and the most a caller may ask for (SigV4
# presigned URLs last 7 days at most; larger values are capped to that).
PRESIGN_FILE_URL_EXPIRY_SECONDS = env.int("PRESIGN_FILE_URL_EXPIRY_SECONDS", default=7 * 24 * 3600)
PRESIGN_FILE_URL_MAX_EXPIRY_SECONDS = env.int(
    "PRESIGN_FILE_URL_MAX_EXPIRY_SECONDS", default=7 * 24 * 3600
)
# The shortest file URL lifetime a caller may ask for: a script whose URLs expire before the
# recipient can start it is useless (and a 1-second lifetime was accepted silently).
PRESIGN_FILE_URL_MIN_EXPIRY_SECONDS = env.int(
    "PRESIGN_FILE_URL_MIN_EXPIRY_SECONDS", default=15 * 60
)
# Lifetime of the URL to the script itself (never longer than the file URLs inside it).
PRESIGN_SCRIPT_URL_EXPIRY_SECONDS = env.int("PRESIGN_SCRIPT_URL_EXPIRY_SECONDS", default=24 * 3600)
# Long-term credentials used only to sign download URLs. Empty: the default credential chain,
# whose temporary credentials (roles, SSO) end the URLs' life when they expire.
PRESIGN_AWS_ACCESS_KEY_ID = env.str("PRESIGN_AWS_ACCESS_KEY_ID", default="")
PRESIGN_AWS_SECRET_ACCESS_KEY = env.str("PRESIGN_AWS_SECRET_ACCESS_KEY", default="")
# --- Packages -------------------------------------------------------------------------------
# Days a SUCCEEDED package can be pushed, presigned and reported on (counted from completion).
PACKAGE_EXPIRY_DAYS = env.int("PACKAGE_EXPIRY_DAYS", default=30)
# Beat: how often artifacts (report, manifest, scripts) of expired packages are deleted.
PACKAGE_EXPIRY_CHECK_SECONDS = env.int("PACKAGE_EXPIRY_CHECK_SECONDS", default=3600)
# How often beat runs the one reaper of stuck jobs (packages and pushes, datasharing.jobs). Short,
# so that a push whose worker died is resumed within a minute (see PUSH_STALE_AFTER_SECONDS).
JOBS_REAP_INTERVAL_SECONDS = env.int("JOBS_REAP_INTERVAL_SECONDS", default=15)
# A RUNNING (or UNARCHIVING) package with no progress for this long is failed by the reaper;
# PENDING ones are re-enqueued instead. Packaging steps report progress between batches only.
PACKAGE_STUCK_AFTER_SECONDS = env.int("PACKAGE_STUCK_AFTER_SECONDS", default=1800)
# Transient failures (S3 unreachable after the client's own retries, database restarts) release
# the package back to PENDING and retry it, this many attempts in all, with this base backoff
# (doubled for each further attempt, at most PACKAGE_RETRY_BACKOFF_MAX_SECONDS).
PACKAGE_MAX_ATTEMPTS = env.int("PACKAGE_MAX_ATTEMPTS", default=3)
PACKAGE_RETRY_BACKOFF_SECONDS = env.int("PACKAGE_RETRY_BACKOFF_SECONDS", default=60)
PACKAGE_RETRY_BACKOFF_MAX_SECONDS = env.int("PACKAGE_RETRY_BACKOFF_MAX_SECONDS", default=3600)
# Archive restores (defrostArchivedFastqs): tier (Bulk, Standard, Expedited), days the restored
# copy stays readable, how often beat polls restore state, and how long before giving up.
PACKAGE_RESTORE_TIER = env.str("PACKAGE_RESTORE_TIER", default="Standard")
PACKAGE_RESTORE_DAYS = env.int("PACKAGE_RESTORE_DAYS", default=14)
PACKAGE_RESTORE_POLL_SECONDS = env.int("PACKAGE_RESTORE_POLL_SECONDS", default=900)
PACKAGE_RESTORE_MAX_WAIT_HOURS = env.float("PACKAGE_RESTORE_MAX_WAIT_HOURS", default=96.0)
# Before resolving secondary analyses, list each selected workflow run's output prefix (one
# listing per run, this many at once) so the frozen file list matches storage.
PACKAGE_REFRESH_OUTPUT_LISTINGS = env.bool("PACKAGE_REFRESH_OUTPUT_LISTINGS", default=True)
PACKAGE_S3_CONCURRENCY = env.int("PACKAGE_S3_CONCURRENCY", default=8)
# Most ids one request list may hold (libraryIdList, portalRunIdList, ...).
PACKAGE_REQUEST_MAX_IDS = env.int("PACKAGE_REQUEST_MAX_IDS", default=20000)
# --- Report ---------------------------------------------------------------------------------
# Lifetime of the presigned report URL returned by `GET /api/v1/package/{id}:getSummaryReport`.
REPORT_URL_EXPIRY_SECONDS = env.int("REPORT_URL_EXPIRY_SECONDS", default=3600)
# Table rows the PDF report lists in all; longer tables are cut to a share, saying so (the HTML
# lists every row). WeasyPrint lays out about a thousand cells a second: this bounds PDF time.
REPORT_PDF_MAX_ROWS = env.int("REPORT_PDF_MAX_ROWS", default=400)


# --- Push (S3 and ICAv2) ------------------------------------------------------------------
# Destinations anyone with the curator role may push to (prefixes such as `s3://bucket/prefix/`
# or `icav2://project/folder/`); admins add more in the admin ("Allowed destinations").
SHARE_ALLOWED_DESTINATIONS = env.list("SHARE_ALLOWED_DESTINATIONS", default=[])
# A push fans out one copier task per PUSH_BATCH_SIZE files; a copier claims files a few at a
# time and copies them with a pool of PUSH_COPY_CONCURRENCY threads until none is left (or its
# time slice ends: it then queues a successor, so other pushes get their turn).
PUSH_BATCH_SIZE = env.int("PUSH_BATCH_SIZE", default=250)
PUSH_COPY_CONCURRENCY = env.int("PUSH_COPY_CONCURRENCY", default=16)
PUSH_COPIER_SLICE_SECONDS = env.int("PUSH_COPIER_SLICE_SECONDS", default=600)
PUSH_MAX_COPIERS = env.int("PUSH_MAX_COPIERS", default=32)
# Objects above the threshold are copied with UploadPartCopy (required above 5 GiB).
PUSH_MULTIPART_THRESHOLD = env.int("PUSH_MULTIPART_THRESHOLD", default=512 * 1024**2)
PUSH_MULTIPART_PART_SIZE = env.int("PUSH_MULTIPART_PART_SIZE", default=256 * 1024**2)
PUSH_PART_CONCURRENCY = env.int("PUSH_PART_CONCURRENCY", default=8)
# Canned ACL for objects written to S3 destinations (e.g. bucket-owner-full-control); empty: none.
PUSH_S3_ACL = env.str("PUSH_S3_ACL", default="")
# Verify every copied object by reading it back (a listing per batch) even when the ETag S3
# returned for the copy already matches the source's.
PUSH_VERIFY_READBACK = env.bool("PUSH_VERIFY_READBACK", default=False)
# Attempts per file (each after exponential backoff) once the S3 client's own retries give up.
PUSH_FILE_MAX_ATTEMPTS = env.int("PUSH_FILE_MAX_ATTEMPTS", default=5)
PUSH_RETRY_BASE_SECONDS = env.float("PUSH_RETRY_BASE_SECONDS", default=1.0)
PUSH_RETRY_MAX_SECONDS = env.float("PUSH_RETRY_MAX_SECONDS", default=30.0)
# A copier refreshes the heartbeat of the files it holds (and its job's progress time) every
# PUSH_HEARTBEAT_SECONDS, on its own timer, also while a long multipart copy keeps every thread
# busy. Files whose heartbeat is older than PUSH_STALE_AFTER_SECONDS were lost with their worker
# and are handed out again; a job without progress for that long is resumed. With a heartbeat
# every 10 s, three in a row must be missed before a live copy is taken away (a database hiccup
# of 20 s is tolerated); a dead worker's files are stale after at most 30 s and found by the
# reaper (every JOBS_REAP_INTERVAL_SECONDS = 15 s) by 45 s: resumed within 60 s of a worker being
# available. Keep PUSH_HEARTBEAT_SECONDS at most a third of PUSH_STALE_AFTER_SECONDS.
PUSH_HEARTBEAT_SECONDS = env.float("PUSH_HEARTBEAT_SECONDS", default=10.0)
PUSH_STALE_AFTER_SECONDS = env.int("PUSH_STALE_AFTER_SECONDS", default=30)
# A job without progress is resumed this many times, then failed with an explanation. Each resume
# waits twice as long as the one before (PUSH_STALE_AFTER_SECONDS first, at most
# PUSH_RESUME_BACKOFF_MAX_SECONDS): a push waiting behind other work is not failed within minutes.
PUSH_MAX_RESUMES = env.int("PUSH_MAX_RESUMES", default=5)
PUSH_RESUME_BACKOFF_MAX_SECONDS = env.int("PUSH_RESUME_BACKOFF_MAX_SECONDS", default=1800)
PUSH_BATCH_TIME_LIMIT = env.int("PUSH_BATCH_TIME_LIMIT", default=12 * 3600)
# ICAv2: REST API and credentials (API key or bearer token; `*_FILE` variants hold paths).
ICAV2_BASE_URL = env.str("ICAV2_BASE_URL", default="https://ica.illumina.com/ica/rest").rstrip("/")
ICAV2_API_KEY = _secret("ICAV2_API_KEY")
ICAV2_ACCESS_TOKEN = _secret("ICAV2_ACCESS_TOKEN")
ICAV2_TIMEOUT = env.float("ICAV2_TIMEOUT", default=30.0)
ICAV2_MAX_ATTEMPTS = env.int("ICAV2_MAX_ATTEMPTS", default=5)
# S3 endpoint of the project storage behind ICAv2's temporary credentials (empty: AWS).
ICAV2_S3_ENDPOINT_URL = env.str("ICAV2_S3_ENDPOINT_URL", default="") or None
# Uploads to ICAv2 stream through the worker: memory is about
# ICAV2_UPLOAD_CONCURRENCY x ICAV2_PART_CONCURRENCY x ICAV2_PART_SIZE.
ICAV2_UPLOAD_CONCURRENCY = env.int("ICAV2_UPLOAD_CONCURRENCY", default=4)
ICAV2_PART_CONCURRENCY = env.int("ICAV2_PART_CONCURRENCY", default=2)
ICAV2_PART_SIZE = env.int("ICAV2_PART_SIZE", default=64 * 1024**2)
ICAV2_MULTIPART_THRESHOLD = env.int("ICAV2_MULTIPART_THRESHOLD", default=64 * 1024**2)

# --- Logging ------------------------------------------------------------------------------
LOG_FORMAT = env.str("LOG_FORMAT", default="text")
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"job_context": {"()": "datasharing.logs.JobContextFilter"}},
    "formatters": {
        "text": {"format": "%(asctime)s %(levelname)s %(name)s%(job_label)s %(message)s"},
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json" if LOG_FORMAT == "json" else "text",
            "filters": ["job_context"],
        },
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "botocore": {"level": "WARNING"},
        "boto3": {"level": "WARNING"},
        "urllib3": {"level": "WARNING"},
        # httpx logs every request at INFO (Slack, ICAv2, readiness probes): too chatty.
        "httpx": {"level": "WARNING"},
        "httpcore": {"level": "WARNING"},
        "fontTools": {"level": "WARNING"},
        "weasyprint": {"level": "ERROR"},
        "django.db.backends": {"level": "WARNING"},
    },
}

# --- Email --------------------------------------------------------------------------------
EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="datasharing@localhost")
# SMTP (EMAIL_BACKEND=django.core.mail.backends.smtp.EmailBackend).
EMAIL_HOST = env.str("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = _secret("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
EMAIL_USE_SSL = env.bool("EMAIL_USE_SSL", default=False)
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=30)

# --- Automatic-share approvals and notifications (Slack, email) ----------------------------
# Slack app credentials: the bot token posts and updates messages (scope chat:write); the signing
# secret verifies interactivity requests (Push / Reject buttons). Empty token: Slack messages are
# recorded as FAILED ("Slack is not configured"); empty secret: every button click gets 401.
SLACK_BOT_TOKEN = _secret("SLACK_BOT_TOKEN")
SLACK_SIGNING_SECRET = _secret("SLACK_SIGNING_SECRET")
# Base URL of the Slack Web API (tests point it at a local fake).
SLACK_API_URL = env.str("SLACK_API_URL", default="https://slack.com/api/")
SLACK_TIMEOUT = env.float("SLACK_TIMEOUT", default=10.0)
# A notification (Slack message or email) is tried this many times, with exponential backoff from
# NOTIFY_RETRY_BASE_SECONDS (Slack's Retry-After wins when it says more), then recorded FAILED.
NOTIFY_MAX_ATTEMPTS = env.int("NOTIFY_MAX_ATTEMPTS", default=5)
NOTIFY_RETRY_BASE_SECONDS = env.float("NOTIFY_RETRY_BASE_SECONDS", default=30.0)
NOTIFY_RETRY_MAX_SECONDS = env.float("NOTIFY_RETRY_MAX_SECONDS", default=900.0)
# PENDING notifications older than this are queued again by the automatic-share reconciliation.
NOTIFY_STALE_AFTER_SECONDS = env.int("NOTIFY_STALE_AFTER_SECONDS", default=3600)

# --- Security -----------------------------------------------------------------------------
# Cookies only over HTTPS (production default), HSTS (off until you serve HTTPS only), the
# proxy header that says a request came in over HTTPS (e.g. "HTTP_X_FORWARDED_PROTO,https").
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=PRODUCTION)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=PRODUCTION)
SESSION_COOKIE_HTTPONLY = True
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=False)
_PROXY_SSL_HEADER = env.list("SECURE_PROXY_SSL_HEADER", default=[])
if _PROXY_SSL_HEADER:
    if len(_PROXY_SSL_HEADER) != 2:
        raise ImproperlyConfigured(
            "SECURE_PROXY_SSL_HEADER is 'HEADER,value', e.g. HTTP_X_FORWARDED_PROTO,https."
        )
    SECURE_PROXY_SSL_HEADER = (_PROXY_SSL_HEADER[0], _PROXY_SSL_HEADER[1])
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
