"""API tokens are stored as digests, can expire and be revoked, and old plaintext tokens are
carried over by the migration."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from datasharing.errors import DomainError
from datasharing.models import ApiToken
from datasharing.tokens import api_token_create, api_token_revoke
from tests.conftest import ROOT, make_user

pytestmark = pytest.mark.django_db


def status_with(token: str) -> int:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client.get("/api/v1/package").status_code


def test_the_database_holds_no_usable_token() -> None:
    user = make_user("tess-token", "viewer")
    row, token = api_token_create(user=user, name="ci")
    assert token.startswith("dsk_") and len(token) >= 40
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {ApiToken._meta.db_table}")  # noqa: S608
        stored = " ".join(str(value) for value in cursor.fetchone())
    assert token not in stored
    assert row.key_digest == hashlib.sha256(token.encode()).hexdigest()
    assert row.key_prefix == token[:12]
    assert status_with(token) == 200


def test_expired_and_revoked_tokens_are_refused() -> None:
    user = make_user("tess-token", "viewer")
    row, token = api_token_create(user=user, expires_at=timezone.now() + dt.timedelta(hours=1))
    assert status_with(token) == 200
    ApiToken.objects.filter(pk=row.pk).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    assert status_with(token) == 401
    row2, token2 = api_token_create(user=user)
    assert api_token_revoke(api_token=row2)
    assert not api_token_revoke(api_token=row2)
    assert status_with(token2) == 401


def test_an_expiry_in_the_past_is_refused() -> None:
    user = make_user("tess-token", "viewer")
    with pytest.raises(DomainError, match="future"):
        api_token_create(user=user, expires_at=timezone.now() - dt.timedelta(days=1))


def test_last_use_is_recorded() -> None:
    user = make_user("tess-token", "viewer")
    row, token = api_token_create(user=user)
    assert row.last_used_at is None
    status_with(token)
    row.refresh_from_db()
    assert row.last_used_at is not None


def test_a_token_of_an_inactive_user_is_refused() -> None:
    user = make_user("tess-token", "viewer")
    _, token = api_token_create(user=user)
    User.objects.filter(pk=user.pk).update(is_active=False)
    assert status_with(token) == 401


def test_the_admin_shows_a_new_token_once_and_stores_its_digest() -> None:
    owner = make_user("tess-token", "viewer")
    admin_client = Client()
    admin_client.force_login(User.objects.create_superuser("root", "root@example.org", None))
    response = admin_client.post(
        "/admin/datasharing/apitoken/add/", {"user": owner.pk, "name": "robot"}, follow=True
    )
    assert response.status_code == 200
    shown = [str(m) for m in response.context["messages"]]
    token = next(word for text in shown for word in text.split() if word.startswith("dsk_"))
    assert status_with(token) == 200
    assert ApiToken.objects.get(user=owner).key_digest == hashlib.sha256(token.encode()).hexdigest()


def test_plaintext_tokens_of_an_older_database_keep_working_and_are_dropped(
    tmp_path: Path,
) -> None:
    env = {
        **os.environ,
        "VAR_DIR": str(tmp_path),
        "LOCAL_ENV_FILE": "",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "CELERY_BROKER_URL": "filesystem://",
    }

    def manage(*args: str, stdin: str = "") -> str:
        result = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=env,
            input=stdin,
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout

    manage("migrate", "--no-input")
    manage("migrate", "datasharing", "0001", "--no-input")  # as before API tokens were hashed
    legacy = "0123456789abcdef0123456789abcdef01234567"
    with sqlite3.connect(tmp_path / "db.sqlite3") as db:
        db.execute(
            "INSERT INTO auth_user (password, is_superuser, username, first_name, last_name, "
            "email, is_staff, is_active, date_joined) VALUES ('!', 0, 'old', '', '', '', 0, 1, "
            "'2026-01-01 00:00:00')"
        )
        # The table DRF's authtoken app made (the app is no longer installed).
        db.execute(
            'CREATE TABLE "authtoken_token" ("key" varchar(40) NOT NULL PRIMARY KEY, '
            '"created" datetime NOT NULL, "user_id" integer NOT NULL UNIQUE)'
        )
        db.execute(
            "INSERT INTO authtoken_token VALUES (?, '2026-01-02 03:04:05', "
            "(SELECT id FROM auth_user WHERE username = 'old'))",
            (legacy,),
        )
    manage("migrate", "--no-input")
    with sqlite3.connect(tmp_path / "db.sqlite3") as db:
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master")}
        digests = [row[0] for row in db.execute("SELECT key_digest FROM datasharing_apitoken")]
    assert "authtoken_token" not in tables
    assert digests == [hashlib.sha256(legacy.encode()).hexdigest()]
    checked = manage(
        "shell",
        "--no-imports",
        "-c",
        "import sys; from datasharing.tokens import api_token_find; "
        "print(api_token_find(token=sys.stdin.read().strip()).user.username)",
        stdin=legacy,
    )
    assert checked.strip() == "old"
