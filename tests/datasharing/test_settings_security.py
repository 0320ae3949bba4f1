"""Settings refuse an unsafe production configuration; the embedded stack makes its own key."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT

PRINT_SETTINGS = (
    "import django; django.setup(); from django.conf import settings as s; "
    "print(s.SECRET_KEY); print(s.ALLOWED_HOSTS); print(s.SESSION_COOKIE_SECURE)"
)


def settings_in(tmp_path: Path, **overrides: str) -> subprocess.CompletedProcess[str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"SECRET_KEY", "SECRET_KEY_FILE", "ALLOWED_HOSTS", "DEPLOYMENT"}
    }
    env |= {"VAR_DIR": str(tmp_path / "var"), "LOCAL_ENV_FILE": "", **overrides}
    return subprocess.run(
        [sys.executable, "-c", PRINT_SETTINGS],
        cwd=ROOT,
        env={**env, "DJANGO_SETTINGS_MODULE": "datasharing.settings"},
        capture_output=True,
        text=True,
        check=False,
    )


def test_production_refuses_to_start_without_a_secret_key(tmp_path: Path) -> None:
    result = settings_in(tmp_path, DEPLOYMENT="production", ALLOWED_HOSTS="data.example.org")
    assert result.returncode != 0
    assert "SECRET_KEY (or SECRET_KEY_FILE) must be set" in result.stderr


def test_production_refuses_missing_or_wildcard_allowed_hosts(tmp_path: Path) -> None:
    for hosts in ("", "*", "data.example.org,*"):
        result = settings_in(
            tmp_path, DEPLOYMENT="production", SECRET_KEY="k" * 50, ALLOWED_HOSTS=hosts
        )
        assert result.returncode != 0, hosts
        assert "ALLOWED_HOSTS must list the host names" in result.stderr


def test_production_reads_the_key_from_a_file_and_defaults_to_secure_cookies(
    tmp_path: Path,
) -> None:
    key_file = tmp_path / "secret"
    key_file.write_text("from-a-mounted-secret\n")
    result = settings_in(
        tmp_path,
        DEPLOYMENT="production",
        SECRET_KEY_FILE=str(key_file),
        ALLOWED_HOSTS="data.example.org",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[:3] == [
        "from-a-mounted-secret",
        "['data.example.org']",
        "True",
    ]


def test_the_embedded_stack_makes_its_own_owner_only_key_once(tmp_path: Path) -> None:
    first = settings_in(tmp_path)
    second = settings_in(tmp_path)
    assert first.returncode == 0, first.stderr
    key = first.stdout.split("\n")[0]
    assert len(key) >= 50
    assert second.stdout.split("\n")[0] == key
    key_file = tmp_path / "var" / "secret-key"
    assert key_file.read_text().strip() == key
    assert key_file.stat().st_mode & 0o777 == 0o600
    other = settings_in(tmp_path / "elsewhere")
    assert other.stdout.split("\n")[0] != key


def test_an_unknown_deployment_is_refused(tmp_path: Path) -> None:
    result = settings_in(tmp_path, DEPLOYMENT="prod")
    assert result.returncode != 0
    assert "DEPLOYMENT must be 'embedded' or 'production'" in result.stderr
