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
        health_command = (service.get("healthcheck") or {}).get("test") or []
        for argv in (command, health_command):
            if "manage.py" in argv:
                subcommand = argv[argv.index("manage.py") + 1]
                assert subcommand in commands, f"{name}: unknown command {subcommand}"
        if command[:1] == ["celery"]:
            assert command[1:3] == ["-A", "datasharing"], name
    for volume in services["s3"]["volumes"]:
        source = volume.split(":")[0]
        if source.startswith("./"):
            assert (ROOT / source).exists(), source


def test_compose_restarts_a_dead_or_frozen_worker() -> None:
    """Docker restarts a container whose process exits, not one that is unhealthy: the worker's
    watchdog turns "unresponsive" into an exit, and its health check reads the heartbeat."""
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    worker = compose["services"]["worker"]
    assert worker["restart"] in ("unless-stopped", "always")
    assert _environment_values(worker)["WORKER_WATCHDOG"] == "true"
    # The rest of the environment is the app's (merged from the anchor, not replaced).
    assert _environment_values(worker)["CELERY_BROKER_URL"].startswith("redis://")
    assert worker["healthcheck"]["test"] == ["CMD", "python", "manage.py", "worker_health"]
    # Production keeps prefork on Redis (time limits enforced, pool processes replaced).
    command = worker["command"]
    assert command[command.index("--pool") + 1] == "prefork"
    # The web container's health is the web process's own.
    assert compose["services"]["web"]["healthcheck"]["test"][-1].endswith("/healthz/live")


def test_dockerfile_copies_existing_files_and_runs_gunicorn() -> None:
    text = (ROOT / "Dockerfile").read_text()
    for source in re.findall(r"^COPY (\S+) ", text, flags=re.MULTILINE):
        if source != ".":
            assert (ROOT / source).exists(), source
    assert "datasharing.wsgi" in text


def _environment_values(service: dict) -> dict[str, str]:  # type: ignore[type-arg]
    environment = service.get("environment") or {}
    if isinstance(environment, list):
        environment = dict(item.split("=", 1) for item in environment)
    return {key: str(value) for key, value in environment.items()}


def test_compose_holds_no_secrets_and_reads_them_from_an_env_file() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    secret_names = {"SECRET_KEY", "AWS_SECRET_ACCESS_KEY", "POSTGRES_PASSWORD", "SLACK_BOT_TOKEN"}
    for name, service in compose["services"].items():
        values = _environment_values(service)
        for key in secret_names & set(values):
            # Only a reference to .env, e.g. ${POSTGRES_PASSWORD:?...}, never a value.
            assert values[key].startswith("${"), f"{name}: {key} is written in the file"
        assert values.get("ALLOWED_HOSTS", "") != "*", name
        if name in {"web", "worker", "beat", "listener", "migrate"}:
            assert ".env" in str(service.get("env_file")), name
    assert ".env" in (ROOT / ".gitignore").read_text().split()
    example = (ROOT / "deploy" / "datasharing.env.example").read_text()
    settings = dict(
        line.split("=", 1) for line in example.splitlines() if "=" in line and line[:1] != "#"
    )
    for key in ("SECRET_KEY", "POSTGRES_PASSWORD", "AWS_SECRET_ACCESS_KEY"):
        assert settings[key] == "", f"the example ships a value for {key}"
    assert "*" not in settings["ALLOWED_HOSTS"]


def test_the_image_runs_with_production_settings() -> None:
    text = (ROOT / "Dockerfile").read_text()
    assert "DEPLOYMENT=production" in text
