"""Static checks of files that cannot run here (no Docker engine): they must stay consistent."""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from django.core.management import get_commands

ROOT = Path(__file__).resolve().parent.parent.parent


def test_compose_services_and_commands_exist() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"postgres", "redis", "s3", "web", "worker", "beat", "listener"} <= set(services)
    commands = get_commands()
    for name, service in services.items():
        command = service.get("command") or []
        if "manage.py" in command:
            subcommand = command[command.index("manage.py") + 1]
            assert subcommand in commands, f"{name}: unknown command {subcommand}"
        if command[:1] == ["celery"]:
            assert command[1:3] == ["-A", "datasharing"], name
    for volume in services["s3"]["volumes"]:
        source = volume.split(":")[0]
        if source.startswith("./"):
            assert (ROOT / source).exists(), source


def test_dockerfile_copies_existing_files_and_runs_gunicorn() -> None:
    text = (ROOT / "Dockerfile").read_text()
    for source in re.findall(r"^COPY (\S+) ", text, flags=re.MULTILINE):
        if source != ".":
            assert (ROOT / source).exists(), source
    assert "datasharing.wsgi" in text
